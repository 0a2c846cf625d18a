"""Configuration: parsed once from the environment, every problem named at start-up."""

import base64
import os
import stat
import subprocess
import sys

import pytest

from allyproof.core import config

KEY = "k1:" + base64.b64encode(b"k" * 32).decode()
STRONG = "Vb3-q9Lx_T2mZk7RwYc4HnJd8PeUa6Gs1FoIiEtAyQlNrXhBvW"


def test_development_defaults_generate_local_secrets_once(tmp_path):
    env = {"ALLYPROOF_DATA_DIR": str(tmp_path)}
    first = config.load(env)
    assert first.database_url == f"sqlite:///{tmp_path / 'allyproof.sqlite3'}"
    assert first.public_url == "http://127.0.0.1:8000" and first.jira_push_interval_ms == 150
    assert first.atlassian_auth_url == "https://auth.atlassian.com"
    assert {f"generated a local ALLYPROOF_SECRET_KEY in {tmp_path.name}/secret_key (development only)",
            "generated a local encryption key in " + tmp_path.name + "/encryption_keys (development only)"} == set(first.notes)
    for name in ("secret_key", "encryption_keys"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600
    second = config.load(env)
    assert (second.secret_key, second.encryption_keys) == (first.secret_key, first.encryption_keys)
    assert second.notes == []


def test_production_refuses_to_start_without_its_secrets(tmp_path):
    with pytest.raises(config.ConfigError) as caught:
        config.load({"ALLYPROOF_ENV": "production", "ALLYPROOF_DATA_DIR": str(tmp_path)})
    text = str(caught.value)
    for needle in ("ALLYPROOF_SECRET_KEY is required in production", "ALLYPROOF_ENCRYPTION_KEYS is required in production",
                   "ATLASSIAN_CLIENT_ID and ATLASSIAN_CLIENT_SECRET are required in production"):
        assert needle in text
    assert not (tmp_path / "secret_key").exists()  # production never generates keys


def test_production_with_everything_set(tmp_path):
    loaded = config.load({
        "ALLYPROOF_ENV": "production", "ALLYPROOF_SECRET_KEY": STRONG, "ALLYPROOF_ENCRYPTION_KEYS": KEY, "ALLYPROOF_BEHIND_PROXY": "0",
        "ATLASSIAN_CLIENT_ID": "id", "ATLASSIAN_CLIENT_SECRET": "secret", "DATABASE_URL": "postgres://u@db/allyproof",
        "REDIS_URL": "redis://cache:6379/0", "ALLYPROOF_PUBLIC_URL": "https://allyproof.example.com/",
    })
    assert loaded.is_production and not loaded.debug
    assert loaded.public_url == "https://allyproof.example.com" and loaded.public_host == "allyproof.example.com"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ALLYPROOF_ENV": "staging"}, "ALLYPROOF_ENV='staging' must be one of development, test, production"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL must be a sqlite:/// or postgres:// URL"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL must be a redis:// or rediss:// URL"),
        ({"JIRA_PUSH_INTERVAL_MS": "fast"}, "JIRA_PUSH_INTERVAL_MS='fast' is not a whole number"),
        ({"ALLYPROOF_MAX_UPLOAD_MB": "0"}, "ALLYPROOF_MAX_UPLOAD_MB=0 must be at least 1"),
        ({"ALLYPROOF_PUBLIC_URL": "allyproof.example.com"}, "ALLYPROOF_PUBLIC_URL='allyproof.example.com' must be an absolute http(s) URL"),
        ({"ALLYPROOF_ENCRYPTION_KEYS": "k1:c2hvcnQ="}, "key 'k1' is 5 bytes; AES-256 needs 32"),
    ],
)
def test_each_bad_value_is_named(tmp_path, env, message):
    with pytest.raises(config.ConfigError) as caught:
        config.load({"ALLYPROOF_DATA_DIR": str(tmp_path), **env})
    assert message in str(caught.value)


def test_a_bad_environment_stops_manage_py_with_the_message(tmp_path):
    env = {**os.environ, "ALLYPROOF_ENV": "production", "ALLYPROOF_DATA_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run([sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "AllyProof cannot start; fix these environment variables:" in result.stderr
    assert "Traceback" not in result.stderr


def test_replace_changes_only_the_named_values_and_refuses_an_unknown_name(tmp_path):
    loaded = config.load({"ALLYPROOF_DATA_DIR": str(tmp_path)})
    changed = loaded.replace(max_upload_bytes=1024)
    assert changed.max_upload_bytes == 1024 and loaded.max_upload_bytes != 1024
    assert changed.secret_key == loaded.secret_key and changed.data_dir == loaded.data_dir
    with pytest.raises(TypeError):
        loaded.replace(max_upload_byte=1)
