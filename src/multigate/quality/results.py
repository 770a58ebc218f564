"""Quality results as tables, and ``multigate check``'s verdict (``--strict``)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

import pyarrow as pa

from multigate.exit_codes import ExitCode
from multigate.quality.checks import CHECKS, failing
from multigate.quality.coverage import Coverage, coverage

DATASET_OUTPUT = "*"
"""The ``output`` of session checks, which judge a dataset's outputs together."""
QUALITY_SCHEMA = pa.schema(
    [
        ("output", pa.string()),
        ("check", pa.string()),
        ("count", pa.int64()),
        ("examples", pa.list_(pa.string())),
    ]
)
QUALITY_FAILED_EXIT = int(ExitCode.QUALITY_FAILED)
"""Exit status of ``check --strict`` (and ``ingest --strict``) when a check fails."""


def quality_rows(
    records: Iterable[Mapping[str, Any]],
    calendar: str | None = None,
    *,
    covered: Coverage | None = None,
) -> list[dict[str, Any]]:
    """One row per (output, check): every output's row checks from its sidecar, then the
    dataset's session checks (output ``*``; ``covered``: the coverage already computed)."""
    records = list(records)
    rows = []
    for record in records:
        output = str((record.get("file") or {}).get("name") or "")
        quality = record.get("quality") or {}
        if quality.get("error"):
            rows.append({"output": output, "check": "unreadable", "count": 1,
                         "examples": [str(quality["error"])]})  # fmt: skip
        for check, result in sorted((quality.get("checks") or {}).items()):
            rows.append({"output": output, "check": check, "count": int(result.get("count") or 0),
                         "examples": [str(x) for x in result.get("examples") or []]})  # fmt: skip
    if any((r.get("quality") or {}).get("sessions") for r in records):
        covered = covered or coverage(records, calendar)
        for check, counter in covered.checks.items():
            rows.append({"output": DATASET_OUTPUT, "check": check, **counter.to_json()})
    return rows


def quality_table(records: Iterable[Mapping[str, Any]], calendar: str | None = None) -> pa.Table:
    """``output, check, count, examples`` of one dataset's sidecar records."""
    return pa.Table.from_pylist(quality_rows(records, calendar), schema=QUALITY_SCHEMA)


def failures(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Total count per check that fails ``--strict`` (``unreadable`` outputs too)."""
    totals: dict[str, int] = {}
    for row in rows:
        name = str(row["check"])
        found = failing({name: dict(row)}) if name in CHECKS else {name: int(row["count"])}
        for check, count in found.items():
            totals[check] = totals.get(check, 0) + count
    return totals


def run_check(
    datasets: Mapping[str, Iterable[Mapping[str, Any]]] | Iterable[Mapping[str, Any]],
    strict: bool,
    out: TextIO | None = None,
) -> int:
    """Print every finding (count > 0) per dataset; return the exit status: 0, or
    ``QUALITY_FAILED_EXIT`` under ``strict`` when a check that fails strict found something.
    ``datasets``: ``{name: records}``, or one dataset's records."""
    out = out or sys.stdout
    named = dict(datasets) if isinstance(datasets, Mapping) else {"": datasets}
    failed: dict[str, int] = {}
    for name, records in named.items():
        rows = quality_rows(records)
        found = [row for row in rows if row["count"]]
        prefix = f"{name}: " if name else ""
        if not found:
            print(f"{prefix}no findings", file=out)
        for row in found:
            info = CHECKS.get(str(row["check"]))
            level = "FAIL" if info is None or info.fails_strict else "info"
            examples = ", ".join(row["examples"][:3])
            where = "" if row["output"] == DATASET_OUTPUT else f" in {row['output']}"
            print(f"{prefix}{level} {row['check']}: {row['count']}{where} (e.g. {examples})",
                  file=out)  # fmt: skip
        for check, count in failures(rows).items():
            failed[check] = failed.get(check, 0) + count
    if failed:
        summary = ", ".join(f"{check} {count}" for check, count in sorted(failed.items()))
        verdict = "failed" if strict else "found (not failing without --strict)"
        print(f"quality checks {verdict}: {summary}", file=out)
    return QUALITY_FAILED_EXIT if strict and failed else 0
