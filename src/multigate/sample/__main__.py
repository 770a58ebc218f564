"""``python -m multigate.sample [--data-dir data]``: write the bundled sample data."""

from __future__ import annotations

import argparse
from pathlib import Path

from multigate.sample import SAMPLE_WRITERS, write_samples


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m multigate.sample", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--source", action="append", choices=sorted(SAMPLE_WRITERS))
    args = parser.parse_args()
    for path in write_samples(args.data_dir, args.source):
        print(f"sample: {path}")


if __name__ == "__main__":
    main()
