"""``python -m scripts.ingest`` from the repository root: see ``--help``."""

import sys

from multigate.entry import start

if __name__ == "__main__":
    sys.exit(start())
