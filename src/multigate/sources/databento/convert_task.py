"""One DBN file into its Parquet outputs (one per schema): the function the task engine
runs (in this process or a worker), and the notes of outputs kept as they were."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from multigate.engine.tasks import ConvertOutput, SplitOutputs
from multigate.sources.databento.dbn_convert import ConvertedOutput, convert_dbn_file
from multigate.sources.databento.dbn_info import DbnFileInfo, read_dbn_metadata

CONVERTER = "databento-dbn"
# 2: v1/v2 definitions keep the fields v3 dropped; live captures map in-stream symbols
# 3: definitions of every version carry those four columns (null from v3 files)
CONVERTER_VERSION = "3"


def split_dbn_file(
    inputs: Sequence[Path], temp_for: Callable[[str], Path], params: Mapping[str, Any]
) -> SplitOutputs:
    """Convert the one DBN file in ``inputs``: one output per schema, keyed by schema."""
    (src,) = inputs
    info = read_dbn_metadata(src)
    converted = convert_dbn_file(src, temp_for, price_type=params["price_type"])
    warning = control_warning(
        src.name, converted.other_records, converted.error_messages, bool(converted)
    )
    return SplitOutputs(
        outputs={out.schema: _output(info, out) for out in converted},
        warnings=[warning] if warning else [],  # every run: a file without outputs is never current
    )


def _output(info: DbnFileInfo, out: ConvertedOutput) -> ConvertOutput:
    return ConvertOutput(
        rows=out.rows,
        first_ts=_ns_iso(out.first_ts),
        last_ts=_ns_iso(out.last_ts),
        symbols=out.symbols,
        vendor={
            "vendor": "Databento",
            "dataset": info.dataset,
            "schema": out.schema,
            "stype_in": info.stype_in,
            "stype_out": info.stype_out,
            "dbn_version": info.version,
        },
        # records of the input in no output (live captures: symbol mappings, system and
        # error messages), by kind
        extra={"other_records": out.other_records, "error_messages": out.error_messages},
    )


def notes_from_sidecar(record: Mapping[str, Any]) -> list[str]:
    """The control-record warning of a file whose outputs are current (from one of its
    outputs' sidecars: every output of a file records the file's counts)."""
    extra = record.get("extra") or {}
    inputs = record.get("inputs") or [{}]
    name = Path(str(inputs[0].get("name") or "?")).name
    warning = control_warning(
        name, extra.get("other_records") or {}, extra.get("error_messages") or [], True
    )
    return [warning] if warning else []


def control_warning(
    name: str, counts: Mapping[str, int], errors: Sequence[str], has_data: bool
) -> str | None:
    """What a file's records outside every output call for: its gateway error messages,
    or, with no market data at all, what it held instead."""
    listed = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items())) or "none"
    if errors:
        return (
            f"{name}: {counts.get('error', len(errors))} error message(s) from the gateway "
            f"in the stream, first: {errors[0]!r} (records in no output: {listed})"
        )
    if not has_data:
        return f"{name}: no market data, only control records ({listed})"
    return None


def _ns_iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    import pandas as pd

    return pd.Timestamp(ns, tz="UTC").isoformat()
