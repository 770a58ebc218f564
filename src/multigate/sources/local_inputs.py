"""An offline job's ``path:`` inputs, found the same way by every source, and why a
``path:`` or ``raw_dir:`` finds no input: a config error raised in preflight (nothing
runs, dry run or not), worded for what is actually wrong."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path

from multigate.errors import JobKeyError


def find_path_inputs(pattern: Path) -> list[Path]:
    """The files a ``path:`` (a file or a glob; ``**`` matches any depth) names, sorted."""
    return sorted(Path(p) for p in glob.glob(str(pattern), recursive=True) if Path(p).is_file())


def glob_base(pattern: Path) -> Path:
    """The folder a ``path:`` starts from: a glob's parts before its first wildcard, or a
    plain file's own folder."""
    if not glob.has_magic(str(pattern)):
        return pattern.parent
    parts = []
    for part in pattern.parts:
        if glob.has_magic(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def require_path_inputs(given: str, resolved: Path, found: Sequence[Path], what: str) -> None:
    """``path:`` (a file or a glob) must find at least one input."""
    if found:
        return
    if not glob.has_magic(given):
        if not resolved.exists():
            raise JobKeyError("path", f"'{given}' does not exist ({resolved})")
        if resolved.is_dir():
            raise JobKeyError("path", f"'{given}' is a folder; give a file or a glob")
        raise JobKeyError("path", f"'{given}' is not a {what} this job reads")
    base = glob_base(resolved)
    if not base.is_dir():
        raise JobKeyError("path", f"'{given}': folder {base} does not exist")
    raise JobKeyError("path", f"'{given}' matches no {what}")


def require_folder_inputs(given: str, resolved: Path, found: Sequence[Path], what: str) -> None:
    """``raw_dir:`` must be a folder holding at least one input."""
    if found:
        return
    if not resolved.exists():
        raise JobKeyError("raw_dir", f"'{given}' does not exist ({resolved})")
    if not resolved.is_dir():
        raise JobKeyError("raw_dir", f"'{given}' is not a folder")
    raise JobKeyError("raw_dir", f"no {what} in '{given}'")
