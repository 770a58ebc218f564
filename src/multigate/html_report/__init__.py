"""The coverage report a person can look at: one self-contained HTML file from sidecars."""

from multigate.html_report.collect import collect_datasets, read_databento_ledger, write_report
from multigate.html_report.render import render_report
from multigate.html_report.spend import JobSpend, spend_by_job

__all__ = [
    "JobSpend",
    "collect_datasets",
    "read_databento_ledger",
    "render_report",
    "spend_by_job",
    "write_report",
]
