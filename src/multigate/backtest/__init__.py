"""Backtest-ready reads on top of the catalog: resampling, point-in-time joins and
corporate-action adjustment, applied to Arrow tables the catalog has read (stored data
stays raw). Vendor-free: vendor packages turn their reference files into the factor tables
these functions take. Errors are ``ValueError``; the catalog turns them into CatalogError.
"""

from multigate.backtest.adjust import applied_adjustments
from multigate.backtest.continuous import rolls

__all__ = ["applied_adjustments", "rolls"]
