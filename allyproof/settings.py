"""Django settings, derived from the typed config (allyproof.core.config) and nothing else."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import dj_database_url

from allyproof.core import config as config_module
from allyproof.core import files

try:
    CONFIG = config_module.load()
except config_module.ConfigError as error:  # a clear message instead of a traceback
    sys.stderr.write(f"{error}\n")
    raise SystemExit(2) from None

BASE_DIR = config_module.REPO_ROOT
SECRET_KEY = CONFIG.secret_key
DEBUG = CONFIG.debug
# The public URL's host plus the configured names; local names only outside production.
ALLOWED_HOSTS = [CONFIG.public_host, *CONFIG.extra_hosts]
if not CONFIG.is_production:
    ALLOWED_HOSTS += ["localhost", "127.0.0.1", "[::1]", "testserver"]
CSRF_TRUSTED_ORIGINS = [CONFIG.public_url]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "huey.contrib.djhuey",
    "allyproof.core",
    "allyproof.accounts",
    "allyproof.monitoring",
    "allyproof.integrations.jira",  # its blocks on monitoring's pages: allyproof.core.plugs
    "axes",  # sign-in throttling (allyproof.accounts.throttling)
    "allyproof.scanning",
]

MIDDLEWARE = [
    # First: Jira's deliveries to a connection's callback URL skip the page stack (it explains why).
    "allyproof.integrations.jira.ui.middleware.WebhookReceiverMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "allyproof.core.api_errors.JsonErrorsMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allyproof.accounts.middleware.CurrentOrganizationMiddleware",
    "allyproof.accounts.throttling.ClockMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

ROOT_URLCONF = "allyproof.urls"
WSGI_APPLICATION = "allyproof.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "allyproof" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "allyproof.accounts.context_processors.organization",
                "allyproof.integrations.jira.ui.context_processors.jira",
            ],
        },
    },
]

DATABASES = {"default": dj_database_url.parse(CONFIG.database_url, conn_max_age=60)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    files.private_dir(CONFIG.data_dir)
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        files.private_file(Path(DATABASES["default"]["NAME"]))  # owner-only before SQLite creates it
    # WAL lets the web process read while the worker writes; IMMEDIATE avoids the
    # "database is locked" upgrade deadlock between two writers.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "sites"
LOGOUT_REDIRECT_URL = "login"

# Sign-in throttling: django-axes counts failures per (account, client address) and per client address.
AUTHENTICATION_BACKENDS = [
    "allyproof.accounts.throttling.ThrottledBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 10
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_COOLOFF_TIME = dt.timedelta(minutes=15)
AXES_CLIENT_IP_CALLABLE = "allyproof.accounts.throttling.client_ip"
AXES_LOCKOUT_CALLABLE = "allyproof.accounts.throttling.lockout_response"
AXES_USERNAME_FORM_FIELD = "username"
AXES_SENSITIVE_PARAMETERS: list[str] = []  # lockout log lines name the account and address, for operators
AXES_RESET_ON_SUCCESS = False  # else a valid account could reset its address's count between guesses

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if CONFIG.environment == "test":
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only, never outside tests

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = CONFIG.data_dir / "static"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = CONFIG.public_url.startswith("https://")
if CONFIG.behind_proxy:  # the proxy terminates TLS and says so in this header; config requires it
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + CONFIG.proxy_ssl_header.upper().replace("-", "_"), "https")
if CONFIG.is_production:  # config refuses an http:// public URL in production
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 365 * 24 * 3600
    SECURE_HSTS_INCLUDE_SUBDOMAINS = False  # the operator's other subdomains are not ours to pin
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

from django.utils.csp import CSP  # noqa: E402  (needs settings-time import only)

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "form-action": [CSP.SELF, CONFIG.atlassian_auth_url],
    "frame-ancestors": [CSP.NONE],
}

# Uploads are streamed to the axe reader; keep Django from buffering big bodies in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

if CONFIG.redis_url:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "allyproof",
        "url": CONFIG.redis_url,
        "immediate": False,
    }
else:
    CONFIG.data_dir.mkdir(parents=True, exist_ok=True)  # the SQLite queue lives there, whatever the database
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "allyproof",
        "filename": str(files.private_file(CONFIG.data_dir / "huey.sqlite3")),
        "immediate": False,
        # SqliteHuey is polled: an idle consumer backs off to 10 s by default, longer than the violation
        # page waits for a push (JIRA_PUSH_WAIT_MS). RedisHuey blocks on the queue and needs no such cap.
        "consumer": {"max_delay": 0.5},
    }

for note in CONFIG.notes:
    sys.stderr.write(f"allyproof: {note}\n")

# --- operability (issue 11): structured logs, health, metrics -------------------------------------
from allyproof.core import logs, opsconfig  # noqa: E402

try:
    OPS = opsconfig.load(production=CONFIG.is_production)
except config_module.ConfigError as error:
    sys.stderr.write(f"{error}\n")
    raise SystemExit(2) from None
LOGGING = logs.logging_config(json=OPS.json_logs)
logs.configure_structlog()
# --- end of operability ------------------------------------------------------------------------------
