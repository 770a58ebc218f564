"""Environment for a run: ``.env`` values under real environment variables, and a logging
filter that keeps secret values out of every log line."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from dotenv import dotenv_values

from multigate.errors import ConfigError

_SECRET_NAME = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD|PASSPHRASE)", re.IGNORECASE)
_MIN_SECRET_LENGTH = 4


def load_environment(
    env_file: Path | None, base: Mapping[str, str] | None = None, *, required: bool = False
) -> dict[str, str]:
    """``env_file``'s values, overridden by ``base`` (the real environment by default)."""
    real = dict(os.environ if base is None else base)
    if env_file is None:
        return real
    if not env_file.is_file():
        if required:
            raise ConfigError(f"{env_file}: env file not found")
        return real
    try:
        values = dotenv_values(env_file, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raw = env_file.read_bytes()
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{env_file}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{env_file}: cannot read: {exc.strerror or exc}") from None
    from_file = {key: value for key, value in values.items() if value is not None}
    return {**from_file, **real}


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values of variables whose names look secret (API keys, tokens, passwords)."""
    values = {
        value
        for name, value in env.items()
        if _SECRET_NAME.search(name) and len(value) >= _MIN_SECRET_LENGTH
    }
    return sorted(values, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


class RedactSecrets(logging.Filter):
    """Replace secret values in a record's final message (args included) with ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = list(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            message = redact(record.getMessage(), self._secrets)
            record.msg, record.args = message, None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = redact(
                    logging.Formatter().formatException(record.exc_info), self._secrets
                )
                record.exc_info = None
        return True
