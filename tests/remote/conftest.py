"""moto's S3 server for the tests of object-store data folders, and the AWS variables that
point the real s3fs/botocore client at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.s3_server import S3Server, running_s3_server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    with running_s3_server() as server:
        yield server


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, s3_server: S3Server) -> Iterator[S3Server]:
    """The usual AWS variables, naming the local server (``AWS_ENDPOINT_URL``); the
    server's scripted faults are cleared after the test."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield s3_server
    s3_server.reset()
