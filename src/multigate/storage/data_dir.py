"""Whether a data folder can hold a run's files, checked before anything runs."""

from __future__ import annotations

import os
from pathlib import Path

_DEFAULT_NAME_MAX = 255
_DEFAULT_PATH_MAX = 4096


def data_dir_problem(path: Path, *, writable: bool) -> str | None:
    """Why ``path`` cannot be the data folder, or None when it is (or can be created) one.

    ``writable``: also require that files can be created there (a dry run only reads).
    """
    text = os.fsdecode(path)
    if "\x00" in text:
        return "the path holds a NUL character"
    existing = _nearest_existing(path)
    too_long = _too_long(path, existing)
    if too_long:
        return too_long
    if not existing.is_dir():
        what = "it is" if existing == path else f"{existing} is"
        return f"{what} a file, not a folder"
    if writable and not os.access(existing, os.W_OK | os.X_OK):
        if os.statvfs(existing).f_flag & os.ST_RDONLY:
            return f"{existing} is on a read-only file system"
        return f"{existing} is not writable (permission denied)"
    return None


def _nearest_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists."""
    probe = path
    while probe != probe.parent:
        try:
            if probe.exists():
                return probe
        except OSError:  # e.g. a name too long: it cannot exist
            pass
        probe = probe.parent
    return probe


def _too_long(path: Path, existing: Path) -> str | None:
    name_max = _pathconf(existing, "PC_NAME_MAX", _DEFAULT_NAME_MAX)
    for part in path.parts:
        if len(os.fsencode(part)) > name_max:
            shown = part if len(part) <= 40 else part[:37] + "..."
            return f"the name '{shown}' is longer than the file system allows ({name_max} bytes)"
    path_max = _pathconf(existing, "PC_PATH_MAX", _DEFAULT_PATH_MAX)
    # Leave room for what runs add below it (raw/<source>/..., ingested/<source>/<job>/...).
    if len(os.fsencode(path)) > path_max - 512:
        return f"the path is too long ({len(os.fsencode(path))} bytes; at most {path_max - 512})"
    return None


def _pathconf(path: Path, name: str, default: int) -> int:
    try:
        value = os.pathconf(path if path.is_dir() else path.parent, name)
    except (OSError, ValueError):
        return default
    return value if value > 0 else default
