"""YAML parsing that remembers where every key stands, so errors can name file and line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml

from multigate.errors import ConfigError


@dataclass(frozen=True)
class ParsedYaml:
    """A YAML document as plain Python data plus its node tree (for line numbers)."""

    path: Path
    data: Any
    root: yaml.Node | None

    def line_of(self, location: Sequence[str | int]) -> int | None:
        """1-based line of the deepest node reachable along ``location`` (keys and indexes).

        Elements that name no child (such as pydantic's union tags) are stepped over.
        """
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in location:
            child = _child(node, part)
            if child is None:
                continue
            key_node, node = child
            line = (key_node or node).start_mark.line + 1
        return line

    def resolved(self, location: Sequence[str | int]) -> tuple[str | int, ...]:
        """The parts of ``location`` that name keys or items present in the file (pydantic
        adds union member names such as 'datetime' or 'api' that the user never typed)."""
        node, kept = self.root, []
        for part in location:
            child = _child(node, part) if node is not None else None
            if child is not None:
                kept.append(part)
                node = child[1]
        return tuple(kept)


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == str(part):
                return key_node, value_node
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        if 0 <= part < len(node.value):
            return None, node.value[part]
    return None


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of keeping the last one, and
    leaves dates as strings so the models validate them (with file, line and key)."""

    yaml_implicit_resolvers: ClassVar[dict[Any, list[Any]]] = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(
                    f"{self.name}:{line}: duplicate key '{key}' (first given on line {seen[key]})"
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def parse_yaml_file(path: Path) -> ParsedYaml:
    """Read and parse ``path``; YAML syntax errors become ConfigError with file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        loader = _UniqueKeyLoader(text)
        loader.name = str(path)
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: invalid YAML: {exc.problem}") from exc
    return ParsedYaml(path=path, data=data, root=root)
