"""Dependencies are honest: what src/ imports is declared, and the vendor SDKs are pinned
to the compatible-release series the test suite runs against."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
PINNED_SDKS = ("databento", "databento-dbn", "alpaca-py")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> dict[str, str]:
    """Runtime requirement name -> its version specifier (optional runtime extras such as
    ``dask`` count too: src imports them only when they are chosen)."""
    found = {}
    extras = PYPROJECT["project"].get("optional-dependencies", {})
    optional = [req for name, reqs in extras.items() if name != "test" for req in reqs]
    for requirement in [*PYPROJECT["project"]["dependencies"], *optional]:
        match = re.match(r"^\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*(.*)$", requirement)
        assert match, requirement
        found[_canonical(match.group(1))] = match.group(2).strip()
    return found


def _imported_top_level_modules() -> set[str]:
    modules = set()
    for path in (REPO_ROOT / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - {"multigate", "__future__"}


def test_every_module_src_imports_is_a_declared_dependency():
    distributions = metadata.packages_distributions()
    declared = _declared()
    undeclared = {
        module: distributions.get(module)
        for module in _imported_top_level_modules()
        if not any(_canonical(dist) in declared for dist in distributions.get(module, []))
    }
    assert undeclared == {}


def _compatible(version: str, spec: str) -> bool:
    """``version`` satisfies ``~=X.Y.Z`` (>= X.Y.Z and == X.Y.*)."""
    match = re.fullmatch(r"~=\s*(\d+(?:\.\d+)+)", spec)
    assert match, f"expected a compatible-release bound, got {spec!r}"
    floor = [int(part) for part in match.group(1).split(".")]
    have = [int(part) for part in re.findall(r"\d+", version)[: len(floor)]]
    return have >= floor and have[: len(floor) - 1] == floor[:-1]


def test_optional_extras_count_as_declared_with_their_distributions():
    declared = _declared()
    assert "dask" in declared and "numpy" in declared


def test_vendor_sdks_have_compatible_release_bounds_the_suite_runs_against():
    declared = _declared()
    for name in PINNED_SDKS:
        assert declared[name].startswith("~="), (name, declared[name])
        installed = metadata.version(name)
        assert _compatible(installed, declared[name]), (name, installed, declared[name])


def test_compatible_release_check_itself():
    assert _compatible("0.88.3", "~=0.88.0")
    assert not _compatible("0.89.0", "~=0.88.0")
    assert not _compatible("0.87.9", "~=0.88.0")
