"""A few hundred seeded mutations of example.ingest.yaml, each run through the CLI entry point:
never a traceback, never an exit status outside 0-3.

Every source is pointed at a closed port on 127.0.0.1 with instant retries, API keys are
absent and a proxy on a closed port catches any other request, so no mutation reaches the
network; a mutation that would send a request elsewhere, or write outside the test folder,
is not run (and counted as such).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from multigate.cli import main
from multigate.sample import write_samples

EXAMPLE = Path(__file__).resolve().parents[2] / "example.ingest.yaml"
CASES = 300
KEYS = ("DATABENTO_API_KEY", "APCA_API_KEY_ID", "APCA_API_SECRET_KEY")
ALLOWED_EXIT = {0, 1, 2, 3}
JUNK_VALUES: list[Any] = [
    None, 0, -1, 7, 1.5, -0.0, 1e308, float("inf"), float("nan"), "", " ", "x", "api", "offline",
    "2024-01-02", "9999-12-31", "0000-00-00", "2024-02-30", True, False, [], {}, [1, 2],
    {"a": 1}, ["AAPL", "aapl"], "ALL_SYMBOLS", "1Min", "month", "ES.c.0", "BTC/USD", "\t",
    "é", "NA", "*", "**/*.csv", "a,b", "0x10", 2**70,
]  # fmt: skip
SAMPLE_GLOBS = [
    "data/raw/**/*", "data/raw/vix/sample/*", "data/raw/vix/sample/fred/*",
    "data/raw/alpaca/sample/json/*", "data/raw/alpaca/sample/csv/*",
    "data/raw/alpaca/sample/parquet/*", "data/raw/databento/sample/*",
    "data/ingested/**/*.parquet", "ingest.yaml", "data", "*",
]  # fmt: skip
JUNK_BYTES = [b"\xff", b"\x00", b"\x01", b"\t", b":", b"- ", b"[", b"{", b"&a", b"*a", b"!!", b"%"]


def offline_safe_example(base_url: str) -> dict[str, Any]:
    """example.ingest.yaml with every source pointed at ``base_url`` and instant retries."""
    data = yaml.safe_load(EXAMPLE.read_text())
    for source in data["sources"].values():
        source["base_url"] = base_url
        source["http"] = {"max_attempts": 2, "backoff_seconds": 0, "max_backoff_seconds": 0}
    return data


def paths_in(value: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key) pair in a nested structure."""
    if isinstance(value, dict):
        for key in list(value):
            yield value, key
            yield from paths_in(value[key])
    elif isinstance(value, list):
        for index in range(len(value)):
            yield value, index
            yield from paths_in(value[index])


def mutate_tree(data: Any, rng: random.Random) -> Any:
    spots = list(paths_in(data))
    if not spots:
        return data
    container, key = rng.choice(spots)
    kind = rng.randrange(7)
    if kind == 0:  # delete a key or an item
        del container[key]
    elif kind == 1:  # retype a value
        container[key] = copy.deepcopy(rng.choice(JUNK_VALUES))
    elif kind == 2:  # swap two values
        other, other_key = rng.choice(spots)
        try:
            container[key], other[other_key] = other[other_key], container[key]
        except (KeyError, IndexError):
            pass
    elif kind == 3:  # deepen nesting
        for _ in range(rng.randrange(1, 80)):
            container[key] = [container[key]] if rng.random() < 0.5 else {"x": container[key]}
    elif kind == 4 and isinstance(container, dict):  # an unknown or a non-name key
        container[rng.choice(["max_cost_usb", "extra", 1, True, None, "sources"])] = rng.choice(
            JUNK_VALUES
        )
    elif kind == 5 and isinstance(container, dict):  # flip modes and switches
        for field in ("mode", "enabled"):
            if field in container:
                container[field] = rng.choice(["api", "offline", True, False])
    elif kind == 6:  # feed one vendor's sample files to another's job
        jobs = [job for job, _ in paths_in(data) if isinstance(job, dict) and "path" in job]
        if jobs:
            rng.choice(jobs)["path"] = rng.choice(SAMPLE_GLOBS)
    return data


def mutate_text(text: bytes, rng: random.Random) -> bytes:
    lines = text.split(b"\n")
    kind = rng.randrange(4)
    if kind == 0:  # junk bytes
        at = rng.randrange(len(text) + 1)
        return text[:at] + rng.choice(JUNK_BYTES) + text[at:]
    if kind == 1:  # duplicate a line (duplicate keys, duplicate jobs)
        at = rng.randrange(len(lines))
        lines.insert(at, lines[at])
    elif kind == 2:  # delete a line
        del lines[rng.randrange(len(lines))]
    else:  # cut the file short
        return text[: rng.randrange(len(text) + 1)]
    return b"\n".join(lines)


def mutated_config(seed: int, base_url: str) -> bytes:
    rng = random.Random(seed)
    data = offline_safe_example(base_url)
    if rng.random() < 0.4:  # run the API jobs (against the closed port)
        for source in data["sources"].values():
            source["mode"] = "api"
    for _ in range(rng.choice([0, 1, 1, 1, 2, 3])):
        data = mutate_tree(data, rng)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()
    if rng.random() < 0.4:
        text = mutate_text(text, rng)
    return text


def stays_local(text: bytes, base_url: str) -> bool:
    """Whether running ``text`` can only reach ``base_url`` and only touch the test folder:
    every source keeps that base_url and instant retries; no path leaves the folder."""
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError):
        return True  # our loader refuses it too: nothing runs
    if not isinstance(data, dict) or not isinstance(data.get("sources"), dict):
        return True
    for source in data["sources"].values():
        if not isinstance(source, dict):
            continue
        http = source.get("http")
        if source.get("base_url") != base_url or not isinstance(http, dict):
            return False
        if http.get("backoff_seconds") != 0 or http.get("max_backoff_seconds") != 0:
            return False
    return not any(
        isinstance(value, str) and (".." in value or value.startswith(("/", "~")))
        for value in strings_in(data)
    )


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch, closed_port: Callable[[], int]) -> str:
    """No API keys; any request not to 127.0.0.1 goes to a proxy nobody listens on."""
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)
    proxy = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return f"http://127.0.0.1:{closed_port()}"


def test_mutated_configs_never_end_in_a_traceback(
    tmp_path: Path, no_network: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_samples(tmp_path / "data")
    problems: list[str] = []
    skipped = 0
    for seed in range(CASES):
        text = mutated_config(seed, no_network)
        if not stays_local(text, no_network):
            skipped += 1
            continue
        config = tmp_path / "ingest.yaml"
        config.write_bytes(text)
        env = tmp_path / ".env"
        if seed % 3 == 0:  # keys present: API jobs get as far as the (closed) port
            env.write_text("".join(f"{key}=fuzz-{key.lower()}-0000\n" for key in KEYS))
        else:
            env.unlink(missing_ok=True)
        args = ["--config", str(config), "--yes", "-q"]
        if seed % 2:
            args.append("--dry-run")
        try:
            code = main(args)
        except (Exception, SystemExit) as exc:  # nothing may escape main()
            problems.append(f"seed {seed}: {type(exc).__name__}: {exc}")
            continue
        finally:
            err = capsys.readouterr().err
        if "Traceback" in err or code not in ALLOWED_EXIT:
            problems.append(f"seed {seed}: exit {code}: {err.strip()[-300:]}")
    assert skipped < CASES // 3, f"{skipped} of {CASES} mutations were not run"
    assert not problems, f"{len(problems)} of {CASES - skipped} runs:\n" + "\n".join(problems)
