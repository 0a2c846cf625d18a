"""Issue 13, case 4: production refuses to start on settings that would be wrong, naming the variable."""

import base64
import json
import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from allyproof.accounts.models import User
from allyproof.core import config

KEY = "k1:" + base64.b64encode(b"k" * 32).decode()
STRONG = "Vb3-q9Lx_T2mZk7RwYc4HnJd8PeUa6Gs1FoIiEtAyQlNrXhBvW"


def production(tmp_path, **overrides):
    env = {
        "ALLYPROOF_ENV": "production", "ALLYPROOF_DATA_DIR": str(tmp_path), "ALLYPROOF_SECRET_KEY": STRONG,
        "ALLYPROOF_ENCRYPTION_KEYS": KEY, "ATLASSIAN_CLIENT_ID": "id", "ATLASSIAN_CLIENT_SECRET": "secret",
        "DATABASE_URL": "postgres://u@db/allyproof", "ALLYPROOF_PUBLIC_URL": "https://allyproof.example.com",
        "ALLYPROOF_BEHIND_PROXY": "1", "ALLYPROOF_PROXY_SSL_HEADER": "X-Forwarded-Proto",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ALLYPROOF_PUBLIC_URL": "http://allyproof.example.com"},
         "ALLYPROOF_PUBLIC_URL='http://allyproof.example.com' must be an https:// URL in production"),
        ({"ALLYPROOF_SECRET_KEY": "a" * 40}, "ALLYPROOF_SECRET_KEY is 40 characters; production needs at least 50"),
        ({"ALLYPROOF_SECRET_KEY": "a" * 40}, "ALLYPROOF_SECRET_KEY has only 1 distinct characters"),
        ({"ALLYPROOF_SECRET_KEY": "ab" * 40}, "ALLYPROOF_SECRET_KEY has only 2 distinct characters"),
        ({"ALLYPROOF_PROXY_SSL_HEADER": None}, "ALLYPROOF_PROXY_SSL_HEADER is required with ALLYPROOF_BEHIND_PROXY"),
        ({"ALLYPROOF_BEHIND_PROXY": None, "ALLYPROOF_PROXY_SSL_HEADER": None},
         "ALLYPROOF_BEHIND_PROXY must be set in production"),
        ({"ALLYPROOF_BEHIND_PROXY": "sometimes"}, "ALLYPROOF_BEHIND_PROXY='sometimes' must be 1/true/yes or 0/false/no"),
        ({"ALLYPROOF_PROXY_SSL_HEADER": "X-Forwarded-Proto: https"}, "must be a header name such as X-Forwarded-Proto"),
        ({"ALLYPROOF_ALLOWED_HOSTS": "allyproof.internal,localhost"},
         "ALLYPROOF_ALLOWED_HOSTS must not name localhost addresses in production"),
    ],
)
def test_production_refuses_to_start_naming_the_variable(tmp_path, overrides, message):
    with pytest.raises(config.ConfigError) as caught:
        config.load(production(tmp_path, **overrides))
    assert message in str(caught.value)


def test_a_good_production_configuration_loads(tmp_path):
    loaded = config.load(production(tmp_path, ALLYPROOF_ALLOWED_HOSTS="allyproof.internal, web-1"))
    assert loaded.behind_proxy and loaded.proxy_ssl_header == "X-Forwarded-Proto"
    assert loaded.extra_hosts == ("allyproof.internal", "web-1")


def django_settings(env: dict) -> dict:
    """Django's settings as a fresh process derives them from `env`."""
    code = ("import json, django; django.setup(); from django.conf import settings as s; print(json.dumps({k: getattr(s, k, None) "
            "for k in ['ALLOWED_HOSTS', 'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', 'SECURE_PROXY_SSL_HEADER', "
            "'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE']}))")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ALLYPROOF_", "ATLASSIAN_", "DATABASE_URL"))}
    result = subprocess.run([sys.executable, "-c", code], env={**clean, "DJANGO_SETTINGS_MODULE": "allyproof.settings", **env},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_turns_on_hsts_ssl_redirect_and_the_proxy_header_and_allows_only_its_hosts(tmp_path):
    loaded = django_settings(production(tmp_path, ALLYPROOF_ALLOWED_HOSTS="allyproof.internal"))
    assert loaded["ALLOWED_HOSTS"] == ["allyproof.example.com", "allyproof.internal"]
    assert loaded["SECURE_SSL_REDIRECT"] is True and loaded["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert loaded["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert loaded["SESSION_COOKIE_SECURE"] is loaded["CSRF_COOKIE_SECURE"] is True


def test_development_keeps_local_names_and_plain_http(tmp_path):
    loaded = django_settings({"ALLYPROOF_DATA_DIR": str(tmp_path)})
    assert "localhost" in loaded["ALLOWED_HOSTS"] and "127.0.0.1" in loaded["ALLOWED_HOSTS"]
    assert not loaded["SECURE_SSL_REDIRECT"] and not loaded["SECURE_HSTS_SECONDS"]


def test_manage_py_stops_with_the_weak_key_named(tmp_path):
    env = {**os.environ, **production(tmp_path, ALLYPROOF_SECRET_KEY="a" * 40)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run([sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "ALLYPROOF_SECRET_KEY is 40 characters" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [
    ["allyproof_org_create", "--name", "X", "--owner-email", "new@x.test", "--owner-password", "1"],
    ["allyproof_member_add", "--org", "demo-agency", "--email", "new@x.test", "--password", "1"],
])
def test_management_commands_refuse_the_password_1(org, command):
    with pytest.raises(CommandError, match="the password is refused: This password is too short"):
        call_command(*command)
    assert not User.objects.filter(email="new@x.test").exists()


def test_createsuperuser_refuses_the_password_1(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "1")
    with pytest.raises(CommandError, match="too short"):
        call_command("createsuperuser", "--noinput", "--email", "root@x.test")
    assert not User.objects.filter(email="root@x.test").exists()
