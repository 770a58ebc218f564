"""``python -m scripts.ingest`` from the repository root: see ``--help``."""

import sys

from multigate.cli import main

if __name__ == "__main__":
    sys.exit(main())
