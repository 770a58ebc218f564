"""Data-quality checks against exchange calendars: flag, never drop (vendor-free).

- :func:`assess_parquet` (ingest time): per-row checks and per-session row counts of one
  output, stored in its sidecar's ``quality`` field.
- :func:`default_calendar`: the exchange calendar an output follows, from its sidecar.
"""

from multigate.quality.assess import assess_parquet
from multigate.quality.calendars import check_calendar_name, default_calendar
from multigate.quality.checks import CHECKS

__all__ = ["CHECKS", "assess_parquet", "check_calendar_name", "default_calendar"]
