"""Files recorded from the live gateway: no schema and no symbology in the metadata; symbols
arrive as in-stream SymbolMappingMsg records, interleaved and remapping midway; system and
error messages sit between the data. Built with databento_dbn's own record types."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import databento as db
import databento_dbn as dbn
import pytest
from dbn_helpers import assert_matches_vendor, read_parquet_df

from multigate.sources.databento.dbn_convert import convert_dbn_file
from multigate.sources.databento.errors import DbnFileError
from multigate.storage.provenance import read_sidecar
from tests.conftest import engine_outputs

T0 = 1_700_006_400_000_000_000  # 2023-11-15T00:00:00Z
DAY = 86_400_000_000_000
PX = 4_500_000_000_000


def _mapping(version: int, iid: int, ts: int, parent: str, raw: str, start: int, end: int):
    if version == 1:
        return dbn.SymbolMappingMsgV1(1, iid, ts, parent, raw, start, end)
    return dbn.SymbolMappingMsg(
        1, iid, ts, dbn.SType.PARENT, parent, dbn.SType.RAW_SYMBOL, raw, start, end
    )


def _system(version: int, ts: int, text: str) -> Any:
    return dbn.SystemMsgV1(ts, text) if version == 1 else dbn.SystemMsg(ts, text)


def _error(version: int, ts: int, text: str) -> Any:
    return dbn.ErrorMsgV1(ts, text) if version == 1 else dbn.ErrorMsg(ts, text)


def _trade(iid: int, ts: int, i: int) -> dbn.TradeMsg:
    side = dbn.Side.BID if i % 2 else dbn.Side.ASK
    return dbn.TradeMsg(1, iid, ts, PX + i, i + 1, dbn.Action.TRADE, side, 0, ts + 9, sequence=i)


def _quote(iid: int, ts: int, i: int) -> dbn.MBP1Msg:
    level = dbn.BidAskPair(PX + i, PX + i + 250_000_000, 3, 4, 1, 1)
    return dbn.MBP1Msg(1, iid, ts, PX + i, 2, dbn.Action.ADD, dbn.Side.BID, 0, ts + 9, levels=level)


def _bar(iid: int, ts: int, i: int) -> dbn.OHLCVMsg:
    rtype = dbn.RType.from_schema(dbn.Schema.OHLCV_1M)
    return dbn.OHLCVMsg(rtype, 1, iid, ts, PX, PX + 5, PX - 5, PX + i, 10 + i)


def live_capture(path: Path, version: int) -> dict[str, int]:
    """Write a live-like capture; return the control records it holds, by kind."""
    meta = dbn.Metadata(
        dataset="GLBX.MDP3",
        start=T0,
        stype_in=None,
        stype_out=dbn.SType.INSTRUMENT_ID,
        schema=None,  # live: mixed, no symbology in the metadata
        symbols=[],
        mappings=[],
        version=version,
    )
    recs: list[Any] = [
        _system(version, T0, "Subscription request 0 for trades data succeeded"),
        _mapping(version, 5, T0, "ES.FUT", "ESZ3", T0, T0 + DAY),
        _mapping(version, 7, T0, "NQ.FUT", "NQZ3", T0, T0 + 2 * DAY),
    ]
    for i in range(60):
        ts = T0 + i * (DAY // 30)  # two days; 8 instrument never mapped
        iid = (5, 7, 8)[i % 3]
        recs.append((_trade, _quote, _bar)[(i // 3) % 3](iid, ts, i))
        if i % 3 == 1:
            recs.append(_quote(iid, ts + 1, i))
        if i == 20:
            recs.append(_system(version, ts, "Heartbeat"))
            recs.append(_error(version, ts, "gateway lagging: data may be delayed"))
        if i == 29:  # the roll arrives midway, just before day two's data
            recs.append(_mapping(version, 5, ts, "ES.FUT", "ESH4", T0 + DAY, T0 + 2 * DAY))
        if i == 40:
            recs.append(_system(version, ts, "Heartbeat"))
    path.write_bytes(bytes(meta.encode()) + b"".join(bytes(r) for r in recs))
    return {"symbol_mapping": 3, "system": 3, "error": 1}


def _vendor(path: Path, schema: str, price_type: str = "float"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store = db.DBNStore.from_file(path)
        return store.to_df(schema=schema, price_type=price_type).reset_index()


@pytest.mark.parametrize("price_type", ["float", "fixed"])
@pytest.mark.parametrize("version", [1, 2, 3])
def test_live_capture_maps_symbols_from_the_stream(tmp_path: Path, version: int, price_type: str):
    src = tmp_path / f"live.v{version}.dbn"
    controls = live_capture(src, version)
    assert db.DBNStore.from_file(src).metadata.mappings == {}  # nothing to map from there
    outputs = convert_dbn_file(src, lambda s: tmp_path / f"{s}.parquet", price_type=price_type)
    assert [o.schema for o in outputs] == ["trades", "mbp-1", "ohlcv-1m"]
    for out in outputs:
        got = read_parquet_df(out.path)
        ref = _vendor(src, out.schema, price_type)
        assert_matches_vendor(got, ref)
        assert out.other_records == controls
        assert out.error_messages == ["gateway lagging: data may be delayed"]
    trades = read_parquet_df(outputs[0].path)
    es = trades[trades.instrument_id == 5].set_index("ts_recv")["symbol"]
    assert set(es[es.index < "2023-11-16"]) == {"ESZ3"}  # before the roll
    assert set(es[es.index >= "2023-11-16"]) == {"ESH4"}  # after the in-stream remap
    assert trades.loc[trades.instrument_id == 8, "symbol"].isna().all()
    assert outputs[0].symbols == ["ESH4", "ESZ3", "NQZ3"]


def test_live_capture_through_a_job_counts_control_records(tmp_path, write_config, run_cli):
    (tmp_path / "dbn").mkdir()
    controls = live_capture(tmp_path / "dbn/capture.dbn", 3)
    config = write_config(
        """
        data_dir: data
        sources:
          databento:
            enabled: true
            mode: offline
            jobs:
              - name: live
                mode: offline
                raw_dir: dbn
        """
    )
    result = run_cli("--config", config)
    assert result.code == 0, result.err
    assert "gateway lagging" in result.out + result.err
    outs = sorted(engine_outputs(tmp_path / "data/ingested/databento/live", recursive=True))
    assert [p.parent.name for p in outs] == ["schema=mbp-1", "schema=ohlcv-1m", "schema=trades"]
    for out in outs:
        sidecar = read_sidecar(out)
        assert sidecar is not None
        assert sidecar["extra"]["other_records"] == controls
        assert sidecar["symbols"] and sidecar["rows"] == len(read_parquet_df(out))


def control_only_capture(path: Path, *texts: str) -> None:
    """A live capture with no market data: a system message, then ``texts`` as errors."""
    meta = dbn.Metadata(
        dataset="GLBX.MDP3",
        start=T0,
        stype_in=None,
        stype_out=dbn.SType.INSTRUMENT_ID,
        schema=None,
        symbols=[],
        mappings=[],
        version=3,
    )
    recs = [_system(3, T0, "Heartbeat"), *(_error(3, T0 + 1, text) for text in texts)]
    path.write_bytes(bytes(meta.encode()) + b"".join(bytes(r) for r in recs))


def test_capture_of_only_an_error_fails_by_name(tmp_path: Path) -> None:
    src = tmp_path / "auth.dbn"
    control_only_capture(src, "auth failed: invalid API key")
    with pytest.raises(DbnFileError, match=r"auth\.dbn.*auth failed: invalid API key"):
        convert_dbn_file(src, lambda s: tmp_path / f"{s}.parquet")
    assert list(engine_outputs(tmp_path)) == []


def test_capture_without_data_reports_its_control_records(tmp_path: Path) -> None:
    src = tmp_path / "quiet.dbn"
    control_only_capture(src)
    converted = convert_dbn_file(src, lambda s: tmp_path / f"{s}.parquet")
    assert list(converted) == []
    assert converted.other_records == {"system": 1}
    assert converted.error_messages == []


_JOB = """
data_dir: data
sources:
  databento:
    enabled: true
    mode: offline
    jobs:
      - name: live
        mode: offline
        raw_dir: dbn
"""


def test_control_records_are_reported_every_run_whatever_fails(tmp_path, write_config, run_cli):
    """An error-only capture fails by name on every run; a quiet capture warns on every
    run; the warning of a capture with data survives a sibling's failure, and so do the
    counts of what was written."""
    (tmp_path / "dbn").mkdir()
    live_capture(tmp_path / "dbn/capture.dbn", 3)
    control_only_capture(tmp_path / "dbn/auth.dbn", "auth failed: invalid API key")
    control_only_capture(tmp_path / "dbn/quiet.dbn")
    config = write_config(_JOB)
    for written, kept in ((3, 0), (0, 3)):
        result = run_cli("--config", config)
        assert result.code == 1
        text = result.out + result.err
        assert "auth.dbn" in text and "auth failed: invalid API key" in text
        assert "gateway lagging" in text  # capture.dbn's warning, kept despite auth.dbn
        assert "quiet.dbn: no market data" in text and "system 1" in text
        row = next(line for line in result.out.splitlines() if " failed " in line)
        cells = [cell.strip() for cell in row.split("│")]
        status = cells.index("failed")
        assert cells[status + 1 : status + 4] == ["80", str(written), str(kept)]
