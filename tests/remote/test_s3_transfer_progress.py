"""A pull or push of many files shows one progress line counting them (the run's display:
a rich bar on a terminal). The display here records what it is told."""

from __future__ import annotations

import os

from multigate.storage.remote.filesystem import open_filesystem
from multigate.storage.remote.location import parse_remote
from multigate.storage.remote.working_copy import pull, push


class RecordedLine:
    def __init__(self, lines: list[list[object]], label: str, total: float | None) -> None:
        self.record: list[object] = [label, total, 0]
        lines.append(self.record)

    def advance(self, amount: float = 1) -> None:
        self.record[2] += amount  # type: ignore[operator]

    def __enter__(self) -> RecordedLine:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class RecordedProgress:
    def __init__(self) -> None:
        self.lines: list[list[object]] = []

    def task(self, description: str, total: float | None = None) -> RecordedLine:
        return RecordedLine(self.lines, description, total)


def test_pull_and_push_count_the_files_they_move(tmp_path, aws_env):
    bucket = aws_env.new_bucket()
    url = f"s3://{bucket}/lake"
    writer = parse_remote(url, cache_dir=tmp_path / "a")
    for index in range(7):
        path = writer.cache_dir / "ingested" / "x" / f"f{index}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(100))
    fs = open_filesystem(writer, dict(os.environ))
    shown = RecordedProgress()
    assert push(fs, writer, shown).files == 7
    assert shown.lines == [[f"upload to {url}", 7, 7]]

    reader = parse_remote(url, cache_dir=tmp_path / "b")
    shown = RecordedProgress()
    assert pull(fs, reader, shown).files == 7
    assert shown.lines == [[f"fetch from {url}", 7, 7]]

    shown = RecordedProgress()
    pull(fs, reader, shown)
    push(fs, writer, shown)
    assert shown.lines == []  # nothing to move: no line at all
