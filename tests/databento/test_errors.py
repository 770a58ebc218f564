"""Bad inputs raise DbnFileError naming the file and leave no output behind."""

from __future__ import annotations

from pathlib import Path

import databento_dbn as dbn
import numpy as np
import pytest
import zstandard
from dbn_helpers import fragment_files
from dbn_versions import metadata_block, write_version_file

from multigate.sources.databento import dbn_convert
from multigate.sources.databento.dbn_convert import convert_dbn_file
from multigate.sources.databento.dbn_info import read_dbn_metadata
from multigate.sources.databento.dbn_synthetic import write_synthetic_file
from multigate.sources.databento.errors import DbnFileError
from multigate.storage import symbol_runs
from tests.conftest import vendor_params


class _Outputs:
    """output_for_schema stand-in that records what was requested."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder / "out"
        self.folder.mkdir()
        self.requested: list[str] = []

    def __call__(self, schema: str) -> Path:
        self.requested.append(schema)
        return self.folder / f"{schema}.parquet"


def _expect_error(src: Path, tmp_path: Path, match: str | None = None) -> _Outputs:
    outputs = _Outputs(tmp_path)
    with pytest.raises(DbnFileError) as info:
        convert_dbn_file(src, outputs)
    assert str(src) in str(info.value)
    assert info.value.path == src
    if match:
        assert match in str(info.value)
    assert list(outputs.folder.iterdir()) == []
    return outputs


def _unzstd(data: bytes) -> bytes:
    return zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True).read()


def _synthetic(tmp_path: Path, name: str, records: int = 3_000) -> Path:
    src = tmp_path / name
    write_synthetic_file(src, "mbp-1", records=records, n_instruments=5)
    return src


@pytest.mark.parametrize("name", ["empty.dbn", "empty.dbn.zst"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    src = tmp_path / name
    src.write_bytes(b"")
    _expect_error(src, tmp_path, "empty")
    with pytest.raises(DbnFileError, match="empty"):
        read_dbn_metadata(src)


def test_legacy_dbz(tmp_path: Path) -> None:
    # Legacy DBZ: a zstd *skippable* frame (magic 0x184D2A50) holding metadata, then data.
    meta = b"\x50\x2a\x4d\x18" + (8).to_bytes(4, "little") + b"\x00" * 8
    src = tmp_path / "legacy.dbz"
    src.write_bytes(meta + zstandard.ZstdCompressor().compress(b"\x00" * 64))
    _expect_error(src, tmp_path, "not a DBN stream")


def test_random_bytes(tmp_path: Path) -> None:
    src = tmp_path / "noise.dbn"
    src.write_bytes(np.random.default_rng(1).bytes(4096))
    _expect_error(src, tmp_path)


def test_zstd_compressed_garbage(tmp_path: Path) -> None:
    src = tmp_path / "noise.dbn.zst"
    src.write_bytes(zstandard.ZstdCompressor().compress(np.random.default_rng(2).bytes(4096)))
    _expect_error(src, tmp_path, "DBN")


def test_corrupt_metadata(tmp_path: Path) -> None:
    good = _synthetic(tmp_path, "good.mbp-1.dbn").read_bytes()
    src = tmp_path / "badmeta.dbn"
    src.write_bytes(good[:8] + b"\xff" * 40 + good[48:])
    _expect_error(src, tmp_path)


def test_corrupt_record_header(tmp_path: Path) -> None:
    good = _synthetic(tmp_path, "good.mbp-1.dbn")
    data = bytearray(good.read_bytes())
    meta_len = 8 + int.from_bytes(data[4:8], "little")
    data[meta_len + 80 * 2500 + 1] = 0x77  # rtype of record 2501 (beyond the first chunk)
    src = tmp_path / "badrec.dbn"
    src.write_bytes(bytes(data))
    outputs = _Outputs(tmp_path)
    with pytest.raises(DbnFileError, match="corrupt record #2501"):
        convert_dbn_file(src, outputs, row_group_size=1_000)
    assert outputs.requested == ["mbp-1"]  # the output was created, then deleted
    assert list(outputs.folder.iterdir()) == []


@pytest.mark.parametrize("suffix", [".dbn", ".dbn.zst"])
def test_truncated_mid_record(tmp_path: Path, suffix: str) -> None:
    good = _synthetic(tmp_path, f"good.mbp-1{suffix}")
    raw = good.read_bytes()
    if suffix == ".dbn":
        cut = raw[:-37]
    else:
        plain = _unzstd(raw)
        cut = zstandard.ZstdCompressor().compress(plain[:-37])
    src = tmp_path / f"cut{suffix}"
    src.write_bytes(cut)
    _expect_error(src, tmp_path, "truncated")


def test_truncated_zstd_frame(tmp_path: Path) -> None:
    good = _synthetic(tmp_path, "good.mbp-1.dbn.zst", records=20_000)
    src = tmp_path / "cutframe.dbn.zst"
    src.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _expect_error(src, tmp_path, "truncated")


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("schema", ["definition", "statistics", "trades"])
def test_truncated_old_version_file(tmp_path: Path, version: int, schema: str) -> None:
    """Truncation is also caught on the v1/v2 upgrade (transcoder) path."""
    good = write_version_file(tmp_path, version, schema, ".dbn")
    src = tmp_path / f"cut.{schema}.v{version}.dbn"
    src.write_bytes(good.read_bytes()[:-20])
    _expect_error(src, tmp_path, "truncated")


@pytest.mark.parametrize("version", [1, 2, 3])
@pytest.mark.parametrize("suffix", [".dbn.frag", ".dbn.frag.zst"])
def test_generated_metadata_less_fragment(tmp_path: Path, version: int, suffix: str) -> None:
    """Records without the metadata header, as the vendor's own fragment files are."""
    whole = write_version_file(tmp_path, version, "definition", ".dbn").read_bytes()
    records = whole[len(metadata_block(version, "definition")) :]
    assert records[1] == 0x13  # the first record's rtype: a definition
    src = tmp_path / f"definition.v{version}{suffix}"
    src.write_bytes(zstandard.ZstdCompressor().compress(records) if "zst" in suffix else records)
    _expect_error(src, tmp_path)
    with pytest.raises(DbnFileError, match=src.name):
        read_dbn_metadata(src)


@pytest.mark.parametrize(
    ("head", "match"),
    [
        (b"DBN\x04", "unsupported DBN version 4"),
        (b"DBN\x00", "unsupported DBN version 0"),
        (b"DBZ\x01", "not a DBN stream"),
        (b"\x50\x2a\x4d\x18", "not a DBN stream"),  # zstd skippable frame: legacy DBZ
    ],
)
def test_wrong_magic_or_version(tmp_path: Path, head: bytes, match: str) -> None:
    good = write_version_file(tmp_path, 2, "trades", ".dbn").read_bytes()
    src = tmp_path / "wrong.trades.dbn"
    src.write_bytes(head + good[4:])
    _expect_error(src, tmp_path, match)
    with pytest.raises(DbnFileError, match=match):
        read_dbn_metadata(src)


@pytest.mark.parametrize("src", vendor_params(fragment_files(), lambda p: p.name))
def test_real_metadata_less_fragment(testdata: Path, src: Path, tmp_path: Path) -> None:
    _expect_error(src, tmp_path)
    with pytest.raises(DbnFileError, match=src.name):
        read_dbn_metadata(src)


def test_missing_file(tmp_path: Path) -> None:
    _expect_error(tmp_path / "nope.dbn", tmp_path, "No such file")


class PanicException(BaseException):
    """Stand-in for pyo3's PanicException (a BaseException subclass)."""


class _Boom:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __call__(self, *_args: object) -> None:
        raise self.exc


def test_panic_is_wrapped_and_outputs_removed(tmp_path: Path, monkeypatch) -> None:
    src = _synthetic(tmp_path, "ok.mbp-1.dbn")
    monkeypatch.setattr(dbn_convert, "convert_columns", _Boom(PanicException("rust panic")))
    outputs = _expect_error(src, tmp_path, "PanicException")
    assert outputs.requested == ["mbp-1"]


def test_keyboard_interrupt_propagates_and_cleans_up(tmp_path: Path, monkeypatch) -> None:
    src = _synthetic(tmp_path, "ok.mbp-1.dbn")
    monkeypatch.setattr(dbn_convert, "convert_columns", _Boom(KeyboardInterrupt()))
    outputs = _Outputs(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        convert_dbn_file(src, outputs)
    assert outputs.requested == ["mbp-1"]
    assert list(outputs.folder.iterdir()) == []


def test_writer_failure_is_reported(tmp_path: Path) -> None:
    src = _synthetic(tmp_path, "ok.mbp-1.dbn")
    with pytest.raises(DbnFileError, match=r"ok\.mbp-1\.dbn.*Parquet writer failed"):
        convert_dbn_file(src, lambda s: tmp_path / "no-such-dir" / f"{s}.parquet")


def test_failure_mid_file_removes_partial_output(tmp_path: Path, monkeypatch):
    """A failure after some chunks were sorted and spilled to disk leaves nothing."""
    src = _synthetic(tmp_path, "ok.mbp-1.dbn", records=5_000)
    monkeypatch.setattr(dbn_convert, "SORT_RUN_BYTES", 1)  # every chunk converted
    monkeypatch.setattr(symbol_runs, "RUN_BYTES", 1)  # and spilled
    real = dbn_convert.convert_columns
    calls = {"n": 0}

    def flaky(*args: object) -> object:
        calls["n"] += 1
        if calls["n"] == 4:
            raise ValueError("injected failure")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(dbn_convert, "convert_columns", flaky)
    outputs = _Outputs(tmp_path)
    with pytest.raises(DbnFileError, match="injected failure"):
        convert_dbn_file(src, outputs, row_group_size=1_000)
    assert calls["n"] == 4
    assert list(outputs.folder.iterdir()) == []
    assert list(tmp_path.rglob(".multigate-sort-*")) == []


def test_non_utf8_char_field_is_an_error(tmp_path: Path) -> None:
    src = _synthetic(tmp_path, "ok.mbp-1.dbn", records=10)
    data = bytearray(src.read_bytes())
    meta_len = 8 + int.from_bytes(data[4:8], "little")
    action_offset = np.dtype(dbn.MBP1Msg._dtypes).fields["action"][1]
    data[meta_len + 80 * 3 + action_offset] = 0xE9  # 'action' byte of record 4 (latin-1 é)
    bad = tmp_path / "latin1.mbp-1.dbn"
    bad.write_bytes(bytes(data))
    _expect_error(bad, tmp_path, "UTF-8")
