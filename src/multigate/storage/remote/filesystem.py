"""The fsspec filesystem of a remote data folder, with credentials from the usual places.

For S3 the usual AWS variables apply, read from the environment *and* the run's ``.env``
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_PROFILE``,
``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3``, ``AWS_REGION`` / ``AWS_DEFAULT_REGION``);
``storage_options:`` in ingest.yaml overrides them. Other protocols (``gs://``, ``az://``)
get ``storage_options`` alone and their package's own defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from multigate.errors import ConfigError
from multigate.storage.remote.location import RemoteDataDir

PACKAGE_FOR = {
    "s3": "s3fs",
    "s3a": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "az": "adlfs",
    "abfs": "adlfs",
    "abfss": "adlfs",
}

_S3_FROM_ENV = (
    ("key", ("AWS_ACCESS_KEY_ID",)),
    ("secret", ("AWS_SECRET_ACCESS_KEY",)),
    ("token", ("AWS_SESSION_TOKEN",)),
    ("profile", ("AWS_PROFILE",)),
    ("endpoint_url", ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")),
)
_REGION_FROM_ENV = ("AWS_REGION", "AWS_DEFAULT_REGION")


def filesystem_options(remote: RemoteDataDir, env: Mapping[str, str]) -> dict[str, Any]:
    """The keyword arguments for ``remote``'s filesystem: the environment's, then the
    config's ``storage_options`` over them."""
    options: dict[str, Any] = {}
    if remote.protocol in ("s3", "s3a"):
        for option, names in _S3_FROM_ENV:
            value = next((env[name] for name in names if env.get(name)), None)
            if value is not None:
                options[option] = value
        region = next((env[name] for name in _REGION_FROM_ENV if env.get(name)), None)
        if region is not None:
            options["client_kwargs"] = {"region_name": region}
        if "profile" in options and "key" in options:
            del options["profile"]  # explicit keys win, as in the AWS CLI
    for option, value in remote.storage_options.items():
        if isinstance(value, Mapping) and isinstance(options.get(option), Mapping):
            options[option] = {**options[option], **value}
        else:
            options[option] = value
    return options


def open_filesystem(remote: RemoteDataDir, env: Mapping[str, str]) -> Any:
    """A fresh fsspec filesystem for ``remote`` (no cached instance or listing: a run must
    see the bucket as it is now). Raises ConfigError when its package is not installed."""
    import fsspec

    try:
        cls = fsspec.get_filesystem_class(remote.protocol)
    except (ImportError, ValueError) as exc:
        package = PACKAGE_FOR.get(remote.protocol)
        hint = (
            f": install it with  pip install '{package}'  (or  pip install 'multigate[s3]')"
            if package
            else ""
        )
        raise ConfigError(
            f"data_dir {remote.url}: no filesystem for '{remote.protocol}://'{hint} ({exc})"
        ) from None
    return cls(skip_instance_cache=True, **filesystem_options(remote, env))
