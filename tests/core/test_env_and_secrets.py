"""Keys come from the environment or .env (real variables win) and never reach the logs."""

from __future__ import annotations

import logging

from multigate.env import RedactSecrets, load_environment, secret_values


def test_real_environment_wins_over_env_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DATABENTO_API_KEY=db-from-file\nAPCA_API_KEY_ID=from-file\n")
    env = load_environment(env_file, base={"APCA_API_KEY_ID": "from-env"})
    assert env["DATABENTO_API_KEY"] == "db-from-file"
    assert env["APCA_API_KEY_ID"] == "from-env"


def test_missing_default_env_file_is_fine(tmp_path):
    assert load_environment(tmp_path / ".env", base={"A": "1"}) == {"A": "1"}


def test_secret_values_are_redacted_from_log_records(caplog):
    env = {"DATABENTO_API_KEY": "db-SECRET-123", "HOME": "/root"}
    assert secret_values(env) == ["db-SECRET-123"]
    logger = logging.getLogger("multigate.test_secrets")
    logger.addFilter(RedactSecrets(secret_values(env)))
    with caplog.at_level(logging.INFO, logger="multigate.test_secrets"):
        logger.info("calling with key %s", "db-SECRET-123")
        try:
            raise ValueError("bad key db-SECRET-123")
        except ValueError:
            logger.exception("failed")
    text = caplog.text
    assert "db-SECRET-123" not in text
    assert "calling with key ***" in text
