"""The coverage report a person can look at: one self-contained HTML file from sidecars."""

from multigate.html_report.render import render_report
from multigate.html_report.spend import JobSpend, spend_by_job

__all__ = ["JobSpend", "render_report", "spend_by_job"]
