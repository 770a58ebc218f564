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

    def text_of(self, location: Sequence[str | int]) -> str | None:
        """The scalar exactly as written at ``location`` (``ON`` for a YAML boolean)."""
        node = self.root
        for part in location:
            child = _child(node, part) if node is not None else None
            if child is None:
                return None
            node = child[1]
        return node.value if isinstance(node, yaml.ScalarNode) else None

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

    yaml_implicit_resolvers: ClassVar[dict[Any, list[Any]]] = {  # type: ignore[misc]
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *defaults`: merged keys may be overridden (flattened below)
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                raise ConfigError(f"{self.name}:{line}: {_not_a_name(key_node, key)}")
            if key in seen:
                raise ConfigError(
                    f"{self.name}:{line}: duplicate key '{key}' (first given on line {seen[key]})"
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _not_a_name(key_node: yaml.Node, key: object) -> str:
    if isinstance(key_node, yaml.ScalarNode):
        return (
            f"key {key_node.value!r} is read as {type(key).__name__} {key!r}, not a name; "
            f"every key is a name (quote it if it is one: '{key_node.value}')"
        )
    return "a key must be a plain name, not a list or a mapping"


MAX_DEPTH = 64
"""Deepest nesting accepted; a real config is a handful of levels deep."""


def parse_yaml_file(path: Path) -> ParsedYaml:
    """Read and parse ``path``; every problem (bytes, syntax, keys) becomes a ConfigError
    naming the file and line."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
        ) from None
    try:
        _check_depth(path, text)
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
        raise ConfigError(f"{where}: invalid YAML: {exc.problem}") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(
            f"{path}:{line}: invalid YAML: character U+{exc.character:04X} is not allowed "
            "(control characters must be escaped inside double quotes)"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    return ParsedYaml(path=path, data=data, root=root)


def _check_depth(path: Path, text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before building anything (the composer recurses
    once per level; the event parser does not)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else "?"
                raise ConfigError(
                    f"{path}:{line}: nested more than {MAX_DEPTH} levels deep; "
                    "a config is a few levels of mappings and lists"
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
