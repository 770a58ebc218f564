"""The read side: datasets, filtered and snapshot reads, SQL over what was ingested."""

from multigate.catalog.catalog import Catalog, DatasetInfo, Snapshot
from multigate.catalog.errors import CatalogError, UnknownDataset

__all__ = ["Catalog", "CatalogError", "DatasetInfo", "Snapshot", "UnknownDataset"]
