"""Configuration: ``ingest.yaml`` parsed once into typed, frozen models."""

from multigate.config.loader import load_config
from multigate.config.models import IngestConfig, JobConfig, SourceConfig

__all__ = ["IngestConfig", "JobConfig", "SourceConfig", "load_config"]
