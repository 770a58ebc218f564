"""Backtest-ready reads on top of the catalog: resampling, point-in-time joins and
corporate-action adjustment, applied to Arrow tables the catalog has read (stored data
stays raw). Vendor-free: vendor packages turn their reference files into the factor tables
these functions take. Errors are ``ValueError``; the catalog turns them into CatalogError.
"""
