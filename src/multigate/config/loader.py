"""Load ``ingest.yaml``: parse once, validate strictly, report file/line/key on any error."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from pydantic import BaseModel, ValidationError

from multigate.config.models import IngestConfig, SourceConfig
from multigate.config.yaml_nodes import ParsedYaml, parse_yaml_file
from multigate.errors import ConfigError

EXAMPLE_CONFIG = "example.ingest.yaml"

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config and where it came from."""

    path: Path
    config: IngestConfig

    @property
    def base_dir(self) -> Path:
        """Relative paths in the config are relative to the folder holding it."""
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    @property
    def data_dir(self) -> Path:
        return self.resolve(self.config.data_dir)


def load_config(path: Path) -> LoadedConfig:
    """Read, parse and validate ``path``; raise ConfigError naming file, line and key."""
    from multigate.sources.registry import known_sources, source_class

    path = path.resolve()
    if not path.exists():
        example = path.parent / EXAMPLE_CONFIG
        hint = (
            f" Copy the template first: cp {example.name} {path.name}"
            if example.exists()
            else f" Create it from {EXAMPLE_CONFIG} in the repository root."
        )
        raise ConfigError(f"{path}: config file not found.{hint}")
    parsed = parse_yaml_file(path)
    data = parsed.data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the config must be a mapping with 'data_dir' and 'sources'")

    raw_sources = data.get("sources") or {}
    if not isinstance(raw_sources, dict):
        _fail(parsed, ("sources",), "must be a mapping of source name to settings")

    sources: dict[str, SourceConfig] = {}
    job_owner: dict[str, str] = {}
    for name, raw in raw_sources.items():
        if name not in known_sources():
            _fail(
                parsed,
                ("sources", name),
                f"unknown source '{name}' (known: {', '.join(known_sources())})",
            )
        model = source_class(name).config_model
        source = _validate(parsed, model, raw if raw is not None else {}, ("sources", name))
        for index, job in enumerate(source.jobs):
            if job.name in job_owner:
                _fail(
                    parsed,
                    ("sources", name, "jobs", index, "name"),
                    f"duplicate job name '{job.name}' (also a job of source "
                    f"'{job_owner[job.name]}'); job names must be unique",
                )
            job_owner[job.name] = name
        sources[name] = source

    top = {key: value for key, value in data.items() if key != "sources"}
    base = _validate(parsed, IngestConfig, top, ())
    config = IngestConfig.model_construct(data_dir=base.data_dir, sources=sources)
    return LoadedConfig(path=path, config=config)


def _validate(parsed: ParsedYaml, model: type[M], raw: Any, prefix: Sequence[str | int]) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(parsed, exc, prefix)) from None


def _describe(parsed: ParsedYaml, exc: ValidationError, prefix: Sequence[str | int]) -> str:
    lines: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        raw: tuple[str | int, ...] = (*prefix, *error["loc"])
        message = _MESSAGES.get(error["type"], error["msg"])
        location = parsed.resolved(raw)
        if error["type"] == "extra_forbidden":
            message = f"unknown key '{raw[-1]}' (check its spelling)"
        elif error["type"] == "missing":
            location = (*parsed.resolved(raw[:-1]), raw[-1])
        elif error["type"] == "union_tag_invalid":
            location = (*location, "mode")
        line = parsed.line_of(location)
        where = f"{parsed.path}:{line}" if line else str(parsed.path)
        lines.setdefault(f"{where}: {_dotted(location)}", message)
    described = [f"{where}: {message}" for where, message in lines.items()]
    return described[0] if len(described) == 1 else "invalid config:\n  " + "\n  ".join(described)


_MESSAGES = {
    "missing": "required key is missing",
    "union_tag_invalid": "'mode' must be 'offline' or 'api'",
    "union_tag_not_found": "job needs 'mode: offline' or 'mode: api'",
}


def _dotted(location: Sequence[str | int]) -> str:
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _fail(parsed: ParsedYaml, location: Sequence[str | int], message: str) -> NoReturn:
    line = parsed.line_of(location)
    where = f"{parsed.path}:{line}" if line else str(parsed.path)
    raise ConfigError(f"{where}: {_dotted(location)}: {message}")
