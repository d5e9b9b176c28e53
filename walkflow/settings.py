"""walkflow settings: one file, configured from the environment.

Every variable is parsed strictly: a value that cannot be understood stops start-up with a
message naming the variable, instead of running with a silently wrong configuration.
"""

import datetime
import os
import re
from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name, default=None, required=False):
    value = os.environ.get(name)
    if value is None or value == "":
        if required:
            raise ImproperlyConfigured(f"环境变量 {name} 未设置（required setting {name} is missing）")
        return default
    return value


def env_bool(name, default=False):
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"环境变量 {name}={raw!r} 不是布尔值（{name} must be true/false, 1/0, yes/no）")


def env_int(name, default, minimum=None):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"环境变量 {name}={raw!r} 不是整数（{name} must be an integer）") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"环境变量 {name} 不能小于 {minimum}（{name} must be >= {minimum}）")
    return value


def env_list(name, default=()):
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=False)
# Tests and `make run` set DEBUG or WALKFLOW_DEV explicitly; production must bring its own key.
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = "walkflow-insecure-development-key-do-not-use-in-production"
    else:
        raise ImproperlyConfigured(
            "环境变量 SECRET_KEY 未设置：关闭 DEBUG 时必须提供 SECRET_KEY"
            "（SECRET_KEY is required when DEBUG is off）"
        )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_filters",
    "axes",
    "ledgers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "ledgers.stamps.ReadOncePerRequest",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "ledgers.middleware.SessionLifetimeMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, reading the user with their unit and roles in one query.
    "ledgers.roles.UserBackend",
]

ROOT_URLCONF = "walkflow.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ledgers.context_processors.walkflow",
            ],
        },
    },
]

WSGI_APPLICATION = "walkflow.wsgi.application"


def _database_from_url(url):
    import dj_database_url

    try:
        config = dj_database_url.parse(url, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0))
    except Exception as exc:  # dj_database_url raises several types for a malformed URL
        raise ImproperlyConfigured(f"环境变量 DATABASE_URL 无法解析（DATABASE_URL is invalid: {exc}）") from None
    if config.get("ENGINE") not in ("django.db.backends.postgresql", "django.db.backends.sqlite3"):
        raise ImproperlyConfigured("环境变量 DATABASE_URL 只支持 postgres:// 或 sqlite://（DATABASE_URL: unsupported engine）")
    if config["ENGINE"] == "django.db.backends.postgresql":
        # Planner costs for tables held in memory or on SSD, as a server for this data has them;
        # PostgreSQL's default 4.0 models a spinning disk, and made it hash the whole units and
        # users tables for a 50-row ledger page (3.2 ms; 1.4 ms by index). No parallel workers:
        # the web workers already keep every core busy, and a ledger search spread over three
        # processes cost 85 ms of CPU for 50 ms sooner (the 12345 import and the circular run as
        # tasks, where a minute more is nothing). Options in the URL win.
        config.setdefault("OPTIONS", {}).setdefault("options", "-c random_page_cost=1.1 -c max_parallel_workers_per_gather=0")
    return config


_SQLITE_OPTIONS = {
    # WAL lets the dev server read while a request writes; IMMEDIATE avoids "database is locked"
    # when two requests upgrade a read transaction to a write at the same moment.
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
}

_database_url = env_str("DATABASE_URL")
if _database_url:
    DATABASES = {"default": _database_from_url(_database_url)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "var" / "walkflow.sqlite3",
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(_SQLITE_OPTIONS)
    DATABASES["default"]["CONN_MAX_AGE"] = 0

AUTH_USER_MODEL = "ledgers.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Argon2id first (walkflow/hashers.py says why and at what cost); the others only verify hashes
# stored before, which are then rewritten with Argon2id at the user's next sign-in.
PASSWORD_HASHERS = [
    "walkflow.hashers.Argon2idHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]
# Django's zh_Hans formats list "%Y年%n月%j日", which strptime cannot parse; forms use ISO dates.
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%Y/%m/%d"]
DATETIME_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "staticfiles")))

# Uploaded photos and evidence live outside the web root and are served only by a scoped view.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
MEDIA_URL = "/media-not-served/"
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 10 * 1024 * 1024, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 60 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Red/yellow cards: yellow when the deadline is this many working days away or fewer.
YELLOW_CARD_WORKING_DAYS = env_int("YELLOW_CARD_WORKING_DAYS", 3, minimum=0)
LEDGER_PAGE_SIZE = env_int("LEDGER_PAGE_SIZE", 50, minimum=10)
# Larger ledger exports are built by a worker instead of inside the request (about 3 s per 20,000 rows).
LEDGER_EXPORT_INLINE_MAX = env_int("LEDGER_EXPORT_INLINE_MAX", 20000, minimum=0)
# Imports (ledgers/imports): the largest file and the most data rows read; how long a first
# sign-in code of an imported user stays valid.
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 20 * 1024 * 1024, minimum=1)
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 50000, minimum=1)
ACTIVATION_CODE_DAYS = env_int("ACTIVATION_CODE_DAYS", 14, minimum=1)

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "walkflow@localhost")

# Production hardening, switched on whenever DEBUG is off.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Idle timeout: the session expires after 30 minutes without a request (SessionLifetimeMiddleware
# renews it while the user is active, and ends any session 12 hours after sign-in).
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_MINUTES", 30, minimum=1) * 60
SESSION_ABSOLUTE_LIFETIME = env_int("SESSION_LIFETIME_HOURS", 12, minimum=1) * 60 * 60

# Brute force: 5 failures for one user name from one address lock that pair for 15 minutes.
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = datetime.timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "ledgers.security.client_ip"
# The client address comes from this header only when it is configured (the reverse proxy sets it,
# e.g. X-Real-IP); otherwise REMOTE_ADDR. A header a client can forge is never trusted by default.
CLIENT_IP_HEADER = env_str("CLIENT_IP_HEADER", "")

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # Chart libraries and the admin set style attributes; no inline script is ever allowed.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'"],
        "manifest-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Celery: with REDIS_URL unset, tasks run in-process (the embedded default of `make run`).
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://")):
    raise ImproperlyConfigured("环境变量 REDIS_URL 必须以 redis:// 开头（REDIS_URL must start with redis://）")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = False
CELERY_TASK_IGNORE_RESULT = True
# Keep the re-delivery window far above the longest task (a circular takes seconds).
# Socket timeouts bound a publish to a broker host that vanished without refusing the connection:
# a web request then fails fast and the report stays queued (see tasks.enqueue_report).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 7200, "socket_timeout": 5, "socket_connect_timeout": 5}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A publish to a broker that is down fails after this instead of holding the web request; the
# report stays QUEUED and "requeue-waiting-reports" below sends it again (tests/test_faults.py).
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_BEAT_SCHEDULE = {
    # Reports whose message was lost (broker down when asked for) or whose worker died are sent
    # again; at most a few minutes after the broker is back, the queued work completes.
    "requeue-waiting-reports": {
        "task": "ledgers.tasks.requeue_waiting_reports",
        "schedule": crontab(minute="*/5"),
    },
    "weekly-summary": {
        "task": "ledgers.tasks.weekly_summaries",
        "schedule": crontab(minute=0, hour=8, day_of_week="mon"),
    },
    "monthly-circular": {
        "task": "ledgers.tasks.monthly_circulars",
        "schedule": crontab(minute=0, hour=8, day_of_month="1"),
    },
    "daily-reminders": {
        "task": "ledgers.tasks.daily_reminders",
        "schedule": crontab(minute=30, hour=7),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

# ---------------------------------------------------------------------------------------------
# The JSON API (ledgers/api) and its webhooks
# ---------------------------------------------------------------------------------------------
INSTALLED_APPS += [
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files as static files of an app: nothing from a CDN
]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "ledgers.api.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",  # signed-in browser users, with CSRF
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["ledgers.api.auth.TokenRateThrottle"],
    "DEFAULT_PARSER_CLASSES": ["ledgers.api.auth.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "ledgers.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "walkflow 台账接口",
    "DESCRIPTION": "走流程、解难题、优服务 台账系统的接口：推送问题（12345热线、好差评等），查询整改台账与统计数据。",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}
# Requests per token (or signed-in user) and minute; answered with 429 and Retry-After beyond it.
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "120/min")
if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", API_RATE_LIMIT):
    raise ImproperlyConfigured(f"环境变量 API_RATE_LIMIT={API_RATE_LIMIT!r} 应形如 120/min（API_RATE_LIMIT must look like 120/min）")
# A pushed problem carries at most 9 photos of UPLOAD_MAX_BYTES, base64-encoded (4/3 larger).
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 20 * 1024 * 1024, minimum=1024)
# Django's cache holds the API's rate-limit counters and the choice lists of the ledger and item
# pages (ledgers/choices.py), the latter keyed by a stamp the database changes with the rows. On
# Redis when CACHE_URL (else REDIS_URL) names one: needed as soon as more than one process serves
# the API, or each counts on its own. Otherwise each process's own memory, where the lists still
# stay right because the stamp, not the cache, says what is current.
CACHE_URL = env_str("CACHE_URL")
if CACHE_URL and not CACHE_URL.startswith(("redis://", "rediss://")):
    raise ImproperlyConfigured("环境变量 CACHE_URL 必须以 redis:// 开头（CACHE_URL must start with redis://）")
if CACHE_URL or REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL or REDIS_URL,
                          "KEY_PREFIX": "walkflow", "TIMEOUT": 3600,
                          # A vanished cache host costs a page at most this, then it is built without it.
                          "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "TIMEOUT": 3600,
                          "OPTIONS": {"MAX_ENTRIES": 2000}}}
# Rendered markup (the item page's record, the ledger's rows: ledgers/stamps.py) has a store of its
# own: a ledger page puts 50 rows in it, and in one process's memory they would push the choice
# lists out of the default store's 2,000 entries. On Redis both are one server.
CACHES["rendered"] = {**CACHES["default"]}
if CACHES["rendered"]["BACKEND"].endswith("LocMemCache"):
    CACHES["rendered"]["OPTIONS"] = {"MAX_ENTRIES": 20000}
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 5, minimum=1)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1)
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 60, minimum=1)
CELERY_BEAT_SCHEDULE["deliver-webhooks"] = {
    # The outbox sweep: new deliveries go out at once after commit; this picks up retries and any
    # row whose first send was missed (worker down, broker down).
    "task": "ledgers.tasks.deliver_webhooks",
    "schedule": crontab(minute="*"),
}
# LibreOffice for PDF downloads of circulars; found on PATH (soffice) when not set.
SOFFICE = env_str("SOFFICE", "")
