"""Load ``ingest.yaml``: parse once, validate strictly, report file/line/key on any error."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ValidationError

from multigate.config.models import IngestConfig, JobConfig, SourceConfig
from multigate.config.yaml_nodes import ParsedYaml, parse_yaml_file
from multigate.errors import ConfigError
from multigate.sources.registry import paid_raw_prefixes
from multigate.storage.remote.location import RemoteDataDir, is_remote_url, parse_remote

EXAMPLE_CONFIG = "example.ingest.yaml"

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config and where it came from."""

    path: Path
    config: IngestConfig
    parsed: ParsedYaml | None = field(default=None, repr=False, compare=False)
    """The YAML with its lines, for problems found after loading (preflight)."""
    data_dir_line: int | None = None
    """Line of ``data_dir:`` in the file (None when it is not given)."""

    def describe(self, location: Sequence[str | int], message: str) -> str:
        """``file:line: sources.x.jobs[0].key (job 'name'): message``."""
        if self.parsed is None:
            return f"{self.path}: {_dotted(location)}: {message}"
        return _where(self.parsed, location, message)

    @property
    def base_dir(self) -> Path:
        """Relative paths in the config are relative to the folder holding it."""
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    @property
    def remote(self) -> RemoteDataDir | None:
        """The object-store data folder (``data_dir: s3://...``), or None for a local one."""
        if not is_remote_url(self.config.data_dir):
            return None
        cache = self.config.cache_dir
        return parse_remote(
            self.config.data_dir,
            cache_dir=self.resolve(cache) if cache is not None else None,
            storage_options=self.config.storage_options,
            kept_when_lost=paid_raw_prefixes(),
        )

    @property
    def data_dir(self) -> Path:
        """The local data folder runs work in: for an object-store ``data_dir``, its working
        copy."""
        remote = self.remote
        return remote.cache_dir if remote is not None else self.resolve(self.config.data_dir)


def load_config(path: Path) -> LoadedConfig:
    """Read, parse and validate ``path``; raise ConfigError naming file, line and key."""
    from multigate.sources.registry import config_model, known_sources

    path = path.resolve()
    if not path.exists():
        example = path.parent / EXAMPLE_CONFIG
        hint = (
            f" Copy the template first (cp {example.name} {path.name}), or pass "
            f"--config {example.name}"
            if example.exists()
            else f" Create it from {EXAMPLE_CONFIG} in the repository root, or pass --config FILE"
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
        raise ConfigError(
            _where(parsed, ("sources",), "must be a mapping of source name to settings")
        )

    problems: list[str] = []
    sources: dict[str, SourceConfig] = {}
    job_owner: dict[str, str] = {}
    for name, raw in raw_sources.items():
        if name not in known_sources():
            problems.append(
                _where(
                    parsed,
                    ("sources", name),
                    f"unknown source '{name}'{_suggest(name, known_sources())} "
                    f"(known: {', '.join(known_sources())})",
                )
            )
            continue
        model = config_model(name)
        source = _validate(
            parsed, model, raw if raw is not None else {}, ("sources", name), problems
        )
        if source is None:
            continue
        for index, job in enumerate(source.jobs):
            if job.name in job_owner:
                problems.append(
                    _where(
                        parsed,
                        ("sources", name, "jobs", index, "name"),
                        f"duplicate job name '{job.name}' (also a job of source "
                        f"'{job_owner[job.name]}'); job names must be unique",
                    )
                )
            job_owner[job.name] = name
        sources[name] = source

    top = {key: value for key, value in data.items() if key != "sources"}
    base = _validate(parsed, IngestConfig, top, (), problems)
    if problems or base is None:
        if len(problems) == 1:
            raise ConfigError(problems[0])
        raise ConfigError(f"{len(problems)} problems in the config:\n  " + "\n  ".join(problems))
    config = base.model_copy(update={"sources": sources})
    line = parsed.line_of(("data_dir",)) if "data_dir" in data else None
    return _checked_cache_dir(
        LoadedConfig(path=path, config=config, parsed=parsed, data_dir_line=line)
    )


def _checked_cache_dir(loaded: LoadedConfig) -> LoadedConfig:
    """Refuse a working copy that holds the config file itself (``cache_dir: .``): every
    file of the copy goes up to the bucket, the config's ``.env`` and its secrets too."""
    remote = loaded.remote
    if remote is None or loaded.config.cache_dir is None or loaded.parsed is None:
        return loaded
    cache = remote.cache_dir.resolve()
    if loaded.path.resolve().is_relative_to(cache):
        raise ConfigError(
            _where(
                loaded.parsed,
                ("cache_dir",),
                f"'{loaded.config.cache_dir}' ({cache}) holds this config file: the working "
                "copy's files all go up to the bucket (a .env beside the config too); give "
                "it a folder of its own",
            )
        )
    return loaded


def _validate(
    parsed: ParsedYaml,
    model: type[M],
    raw: Any,
    prefix: Sequence[str | int],
    problems: list[str],
) -> M | None:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_describe(parsed, exc, prefix, model))
        return None


def _describe(
    parsed: ParsedYaml, exc: ValidationError, prefix: Sequence[str | int], model: type[BaseModel]
) -> list[str]:
    found: list[tuple[tuple[str | int, ...], str, str]] = []
    for error in exc.errors(include_url=False):
        raw: tuple[str | int, ...] = (*prefix, *error["loc"])
        message = _MESSAGES.get(error["type"], error["msg"]).removeprefix("Value error, ")
        location = parsed.resolved(raw)
        if error["type"] == "extra_forbidden":
            key = str(raw[-1])
            message = f"unknown key '{key}'{_unknown_key_hint(key, model)}"
        elif error["type"] == "missing":
            location = (*parsed.resolved(raw[:-1]), raw[-1])
        elif error["type"] == "union_tag_invalid":
            location = (*location, "mode")
        elif error["type"] == "string_type" and isinstance(error.get("input"), bool):
            message = _yaml_boolean(parsed, location, error["input"])
        found.append((location, error["type"], message))
    lines: dict[str, str] = {}
    for location, kind, message in found:
        deeper = any(
            len(other) > len(location) and other[: len(location)] == location
            for other, _, _ in found
        )
        if kind == "literal_error" and deeper:
            continue  # the other member of a union (e.g. ALL_SYMBOLS) explains it better
        lines.setdefault(_where_prefix(parsed, location) + _dotted(location, parsed), message)
    return [f"{where}: {message}" for where, message in lines.items()]


def _yaml_boolean(parsed: ParsedYaml, location: Sequence[str | int], value: bool) -> str:
    """YAML 1.1 reads unquoted ON, NO, Y, off... as booleans: say so, and how to fix it."""
    text = parsed.text_of(location) or str(value).lower()
    return (
        f"{text} is read as the boolean {str(value).lower()}, not text (YAML reads unquoted "
        f"yes/no/on/off/y/n/true/false as booleans); quote it: '{text}'"
    )


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else " (check its spelling)"


def _unknown_key_hint(key: str, model: type[BaseModel]) -> str:
    """A key that exists elsewhere (an api job's key on an offline job) says where it
    belongs; any other gets a spelling suggestion that is never the key itself."""
    owners = _models_by_key(model).get(key)
    if owners:
        kinds = sorted({_kind(owner) for owner in owners})
        return f" here: it is a key of {' and '.join(kinds)}"
    return _suggest(key, _models_by_key(model))


def _kind(model: type[BaseModel]) -> str:
    """``mode: api jobs``, ``the source``: what a reader of the config calls ``model``."""
    if issubclass(model, JobConfig):
        mode = get_args(model.model_fields["mode"].annotation)
        return f"'mode: {mode[0]}' jobs" if len(mode) == 1 else "jobs"
    if issubclass(model, SourceConfig):
        return "the source itself"
    return f"the {model.__name__} settings"


def _models_by_key(model: type[BaseModel]) -> dict[str, list[type[BaseModel]]]:
    """Every key any model reachable from ``model`` accepts, with the models that take it."""
    owners: dict[str, list[type[BaseModel]]] = {}
    seen: set[type] = set()

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation in seen:
                return
            seen.add(annotation)
            for name, info in annotation.model_fields.items():
                owners.setdefault(info.alias or name, []).append(annotation)
                visit(info.annotation)
            return
        for argument in get_args(annotation):
            visit(argument)

    visit(model)
    return owners


_MESSAGES = {
    "missing": "required key is missing",
    "union_tag_invalid": "'mode' must be 'offline' or 'api'",
    "union_tag_not_found": "job needs 'mode: offline' or 'mode: api'",
}


def _dotted(location: Sequence[str | int], parsed: ParsedYaml | None = None) -> str:
    """``sources.vix.jobs[1].symbols``, plus `` (job 'daily')`` when a job is named."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    jobs = [i for i, part in enumerate(location) if part == "jobs"]
    if parsed is not None and jobs and len(location) > jobs[-1] + 1:
        name = _job_name(parsed, location[: jobs[-1] + 2])
        if name:
            text += f" (job '{name}')"
    return text or "(top level)"


def _job_name(parsed: ParsedYaml, location: Sequence[str | int]) -> str | None:
    """The ``name:`` of the list item at ``location`` (jobs are easier to find by name)."""
    item: Any = parsed.data
    for part in location:
        try:
            item = item[part]
        except (KeyError, IndexError, TypeError):
            return None
    name = item.get("name") if isinstance(item, dict) else None
    return name if isinstance(name, str) else None


def _where_prefix(parsed: ParsedYaml, location: Sequence[str | int]) -> str:
    line = parsed.line_of(location)
    return f"{parsed.path}:{line}: " if line else f"{parsed.path}: "


def _where(parsed: ParsedYaml, location: Sequence[str | int], message: str) -> str:
    return f"{_where_prefix(parsed, location)}{_dotted(location, parsed)}: {message}"


def load_data_dir(path: Path) -> Path:
    """The data folder the config at ``path`` names (for an object-store one, its working
    copy), checking only the storage keys."""
    return load_storage(path).data_dir


def load_storage(path: Path) -> LoadedConfig:
    """The config at ``path`` with only its storage keys (``data_dir``, ``storage_options``,
    ``cache_dir``) checked: reading data needs no source settings, and so never imports a
    vendor SDK."""
    path = path.resolve()
    if not path.exists():
        raise ConfigError(
            f"{path}: config file not found; name the data folder with --data-dir DIR "
            "(e.g. --data-dir data after make demo), or the config with --config FILE"
        )
    parsed = parse_yaml_file(path)
    data = parsed.data if parsed.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the config must be a mapping with 'data_dir' and 'sources'")
    problems: list[str] = []
    top = {key: data[key] for key in _STORAGE_KEYS if key in data}
    base = _validate(parsed, IngestConfig, top, (), problems)
    if base is None:
        raise ConfigError("\n".join(problems))
    return _checked_cache_dir(LoadedConfig(path=path, config=base, parsed=parsed))


_STORAGE_KEYS = ("data_dir", "storage_options", "cache_dir")
