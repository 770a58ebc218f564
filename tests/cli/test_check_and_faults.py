"""`multigate check` exits as its words say, `--verify` finds changed bytes, and damaged
records or unwritable outputs are one clear line, never a traceback."""

from __future__ import annotations

import json
import os

from multigate.catalog import Catalog
from multigate.exit_codes import ExitCode
from multigate.storage.table_record import TABLE_SIDECAR


def test_check_that_prints_fail_exits_5_and_a_clean_dataset_exits_0(data, multigate):
    found = multigate("check", "--data-dir", data)
    assert " FAIL " in found.out
    assert found.code == ExitCode.QUALITY_FAILED
    assert multigate("check", "--data-dir", data, "--strict").code == ExitCode.QUALITY_FAILED
    clean = multigate("check", "alpaca/alpaca_sample_csv", "--data-dir", data)
    assert "FAIL" not in clean.out
    assert clean.code == ExitCode.OK, clean.out


def test_verify_finds_a_flipped_byte_that_keeps_the_size(data, multigate):
    clean = multigate("check", "alpaca/alpaca_sample_csv", "--verify", "--data-dir", data)
    assert clean.code == ExitCode.OK, clean.out
    assert "all match" in clean.out
    sidecars = [p for p in (data / "ingested").rglob("*.source.json") if p.name != TABLE_SIDECAR]
    table_files = list((data / "ingested").rglob("*.v-*.parquet"))
    assert f"verified {len(sidecars) + len(table_files)} file(s)" in clean.out
    target = data / "ingested" / "vix" / "vix_sample" / "VIX.parquet"
    linked = target.stat().st_nlink > 1  # its table's link shares the bytes (not in a copy)
    body = bytearray(target.read_bytes())
    body[len(body) // 2] ^= 0x01
    stat = target.stat()
    target.write_bytes(bytes(body))  # in place
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    found = multigate("check", "alpaca/alpaca_sample_csv", "--verify", "--data-dir", data)
    assert found.code == ExitCode.JOB_FAILED
    assert "MISMATCH ingested/vix/vix_sample/VIX.parquet: sha256" in found.out
    assert ("MISMATCH ingested/vix/vix_sample/VIX.v-" in found.out) == linked
    assert f"{2 if linked else 1} differ" in found.out


def test_verify_checks_raw_downloads_and_table_files(data, multigate):
    raw = data / "raw" / "vix" / "cboe" / "VIX_History.csv"
    raw.parent.mkdir(parents=True)
    raw.write_text("DATE,OPEN,HIGH,LOW,CLOSE\n")
    (raw.parent / "VIX_History.csv.source.json").write_text(
        json.dumps({"file": {"sha256": "0" * 64, "bytes": raw.stat().st_size}})
    )
    table_file = data / "ingested" / "vix" / "vix_sample" / f"OLD.v-{'a' * 16}.parquet"
    table_file.write_bytes(b"not those bytes")
    found = multigate("check", "vix/vix_sample", "--verify", "--data-dir", data)
    assert found.code == ExitCode.JOB_FAILED
    assert "MISMATCH raw/vix/cboe/VIX_History.csv: sha256" in found.out
    assert f"MISMATCH ingested/vix/vix_sample/OLD.v-{'a' * 16}.parquet: sha256" in found.out


def test_report_onto_a_path_that_cannot_exist_says_so_plainly(data, multigate, tmp_path):
    (tmp_path / "a-file").write_text("")
    out = tmp_path / "a-file" / "r.html"
    result = multigate("report", "--data-dir", data, "--out", out)
    assert result.code == ExitCode.JOB_FAILED
    assert result.err.startswith(f"error: cannot write {out}: ")
    assert "Error" not in result.err and "Traceback" not in result.err
    if os.path.isdir("/proc/self"):  # Linux: /proc takes no new files
        proc = multigate("report", "--data-dir", data, "--out", "/proc/x.html")
        assert proc.code == ExitCode.JOB_FAILED
        assert proc.err.startswith("error: cannot write /proc/x.html: ")
        assert "Error" not in proc.err  # no exception class name


def test_a_damaged_table_log_is_named_not_a_traceback(data, multigate):
    commit = data / "ingested" / "vix" / "vix_sample" / "_delta_log" / f"{0:020d}.json"
    for damage in ("{", "[]", '{"add": 5}'):
        commit.write_text(damage)
        listed = multigate("snapshots", "--data-dir", data)
        assert listed.code == ExitCode.JOB_FAILED, damage
        assert "vix_sample: its Delta log cannot be read" in listed.err
        assert "Traceback" not in listed.err


def test_a_damaged_table_record_is_described_from_the_log(data, multigate):
    record = data / "ingested" / "vix" / "vix_sample" / TABLE_SIDECAR
    before = Catalog.open(data).dataset("vix/vix_sample")
    for damage in ("{", "[]", '{"format_version": 2, "kind": "table", "files": 5}'):
        record.write_text(damage)
        listed = multigate("ls", "--data-dir", data)
        assert listed.code == ExitCode.OK, listed.err
        assert "vix/vix_sample" in listed.out
        assert Catalog.open(data).dataset("vix/vix_sample") == before
