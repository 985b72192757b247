"""Django settings for the Maintenance Service.

Every setting comes from the environment (12-factor, read with django-environ);
``.env.example`` lists them all. Local development gets its values from
``maintenance.dev.localservices``; production passes them in. A required variable that
is missing stops start-up with an error that names it.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from botocore.config import Config as BotoConfig
from csp.constants import NONE, SELF, UNSAFE_INLINE

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# An optional .env file beside manage.py, for people who prefer one; the real
# environment wins over it.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="insecure-development-key-only-for-debug" if DEBUG else environ.Env.NOTSET)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "maintenance.adminkit.site.WorkshopAdminConfig",  # django.contrib.admin with the workshop's site
    "django.contrib.auth",
    "axes",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # OpClass() in index expressions (trigram and jsonb_path_ops indexes, issue 24).
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "csp",
    "maintenance.api",
    "maintenance.accounts",
    "maintenance.audit",
    "maintenance.idempotency",
    "inventory",
    "orders",
    "media_uploads",
    "maintenance.backoffice",
    "maintenance.dev",
]

MIDDLEWARE = [
    "maintenance.http.timing.RequestTimingMiddleware",
    "maintenance.http.resilience.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (django-csp; the policy is under "security" below).
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language of the answer: the admin's language switch (set_language's cookie), else the
    # browser's Accept-Language, else LANGUAGE_CODE. After sessions, before CommonMiddleware.
    "django.middleware.locale.LocaleMiddleware",
    # Django's, with no redirect (nor, under DEBUG, a 500) for a write to a path missing its slash.
    "maintenance.http.slashes.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "maintenance.audit.middleware.AuditContextMiddleware",
    "maintenance.idempotency.middleware.IdempotencyMiddleware",
    # Last, as django-axes requires: turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "maintenance.urls"
WSGI_APPLICATION = "maintenance.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Before the apps' own: these override Django admin's, DRF's and drf-spectacular's templates.
        "DIRS": [BASE_DIR / "maintenance" / "backoffice" / "templates", BASE_DIR / "maintenance" / "api" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database --------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# A connection dropped by a database restart is noticed before use, not by a 500.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})
# Behind PgBouncer in transaction mode (DATABASE_TRANSACTION_POOLER=true), each transaction may run
# on another server connection: nothing may outlive one. Django's server-side cursors (a named
# cursor kept open between fetches) are turned off, psycopg prepares no statement by default
# (PgBouncer before 1.21 does not carry them over), and no startup `options` are sent (PgBouncer
# refuses them): the pooler sets the statement timeout itself (docker/pgbouncer/pgbouncer.ini).
DATABASE_TRANSACTION_POOLER = env.bool("DATABASE_TRANSACTION_POOLER", default=False)
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = DATABASE_TRANSACTION_POOLER
# Parameters bound by the server, and statements run more than
# DATABASE_PREPARE_THRESHOLD times on a connection prepared once (psycopg's own
# cache): the server then skips parsing and planning the same order SQL again.
# Behind a pooler the default is 0 (none); PgBouncer 1.21+ with max_prepared_statements
# keeps them, and then a threshold may be set again.
if env.bool("DATABASE_SERVER_SIDE_BINDING", default=True):
    DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
    _prepare_threshold = env.int("DATABASE_PREPARE_THRESHOLD", default=0 if DATABASE_TRANSACTION_POOLER else 5)
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = _prepare_threshold or None
DATABASES["default"]["OPTIONS"]["connect_timeout"] = env.int("DATABASE_CONNECT_TIMEOUT", default=5)
# One stuck query must not hold a worker forever.
_statement_timeout_ms = env.int("DATABASE_STATEMENT_TIMEOUT_MS", default=5000)
if _statement_timeout_ms and not DATABASE_TRANSACTION_POOLER:
    DATABASES["default"]["OPTIONS"]["options"] = f"-c statement_timeout={_statement_timeout_ms}"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- storage (S3 through django-storages) ----------------------------------
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME")
AWS_S3_ENDPOINT_URL = env("AWS_S3_ENDPOINT_URL", default=None)
# Where browsers reach the S3 server, when not where the app does (compose: the app talks to
# http://s3:8333, a name only the containers resolve): photo links are signed for it.
AWS_S3_PUBLIC_ENDPOINT_URL = env("AWS_S3_PUBLIC_ENDPOINT_URL", default=None)
AWS_S3_REGION_NAME = env("AWS_S3_REGION_NAME", default="us-east-1")
IMAGE_URL_TTL_SECONDS = env.int("IMAGE_URL_TTL_SECONDS", default=3600)
# A CSV import's file between its preview and its confirmation: in S3, which every app server
# reads (the default, the server's temporary folder, is one server's).
IMPORT_EXPORT_TMP_STORAGE_CLASS = "maintenance.adminkit.import_storage.ImportFileStorage"
STORAGES = {
    "default": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": AWS_S3_ENDPOINT_URL,
            "access_key": env("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env("AWS_SECRET_ACCESS_KEY", default=None),
            "region_name": AWS_S3_REGION_NAME,
            # Uploads are never served from a public bucket: links are presigned.
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": IMAGE_URL_TTL_SECONDS,
            "file_overwrite": False,
            # django-storages ignores its own signature_version/addressing_style
            # options once a client_config is given: they belong here.
            "client_config": BotoConfig(
                signature_version="s3v4",
                s3={"addressing_style": env("AWS_S3_ADDRESSING_STYLE", default="path")},
                connect_timeout=env.int("AWS_S3_CONNECT_TIMEOUT", default=3),
                read_timeout=env.int("AWS_S3_READ_TIMEOUT", default=10),
                retries={"max_attempts": 2},
            ),
        },
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- static files ----------------------------------------------------------
STATIC_URL = "static/"
# The back-office's static files come with its app; the browsable API's script lives with the API plumbing.
STATICFILES_DIRS = [BASE_DIR / "maintenance" / "api" / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / ".state" / "staticfiles")

# --- i18n ------------------------------------------------------------------
LANGUAGE_CODE = "en"
# The back-office and the API's messages; machine-readable codes stay English (locale/README).
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- auth ------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

# Repeated failed logins (admin, browsable API) lock that username from that address
# for a while (django-axes). API tokens are not passwords and are not counted.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The client's address (maintenance.http.client_address): the socket's, unless TRUSTED_PROXY_COUNT
# proxies that append to X-Forwarded-For stand in front (1 behind the compose nginx). Without
# them the header is the client's own say and ignored: it would let anyone dodge the lockout,
# and behind a proxy not counted every client would share the proxy's address (one lockout for all).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "maintenance.http.client_address.client_address"

# --- request limits ----------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)
MAX_IMAGE_UPLOAD_BYTES = env.int("MAX_IMAGE_UPLOAD_BYTES", default=10 * 1024 * 1024)
# An upper bound on pixels; the memory budget below usually sets a lower one.
MAX_IMAGE_PIXELS = env.int("MAX_IMAGE_PIXELS", default=50_000_000)
# What decoding one upload may cost a worker in memory; each format's pixel limit follows from
# it (media_uploads.services.pixel_limit): at 120 MB, 14 MP for JPEG and PNG (a larger JPEG is
# stored at a half, a quarter or an eighth of its size), 6.3 MP for WebP.
IMAGE_DECODE_BUDGET_MB = env.int("IMAGE_DECODE_BUDGET_MB", default=120)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
MAX_ORDER_LINES = env.int("MAX_ORDER_LINES", default=100)
MAX_LINE_QUANTITY = env.int("MAX_LINE_QUANTITY", default=10000)

# --- REST framework --------------------------------------------------------
REST_FRAMEWORK = {
    # Throttles key anonymous clients by the same address as the lockout (see TRUSTED_PROXY_COUNT).
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "maintenance.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["maintenance.api.permissions.ModelPermissions"],
    # DRF's defaults; the JSON one answers 400, not 500, for a document nested too deeply.
    "DEFAULT_PARSER_CLASSES": [
        "maintenance.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        # DRF's, with raw-data boxes pre-filled with a valid example (maintenance.api.renderers).
        "maintenance.api.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "maintenance.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "maintenance.api.filters.FilterBackend",
        "maintenance.api.filters.SearchFilter",
        "maintenance.api.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "maintenance.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "maintenance.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "maintenance.api.throttling.AnonRateThrottle",
        "maintenance.api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON_RATE", default="60/minute"),
        "user": env("THROTTLE_USER_RATE", default="6000/minute"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
API_PAGE_SIZE_MAX = 200

SPECTACULAR_SETTINGS = {
    "TITLE": "Maintenance Service API",
    "DESCRIPTION": (
        "Spare-parts inventory, service orders and their photos for a maintenance workshop. "
        "Authenticate with `Authorization: Token <key>` (or a staff session). "
        "POST and PATCH honour an `Idempotency-Key` header."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Tags from the first path segment after it: categories, items, orders, audit.
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # The form parsers stay for the browsable API's forms; clients are told of JSON bodies only
    # (the image upload declares its multipart/form-data body itself).
    "PARSER_WHITELIST": ["maintenance.api.parsers.JSONParser"],
    "PREPROCESSING_HOOKS": ["maintenance.api.schema.document_paths_without_trailing_slash"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "maintenance.api.schema.document_error_responses",
    ],
}

# --- idempotency -----------------------------------------------------------
IDEMPOTENCY_WINDOW_SECONDS = env.int("IDEMPOTENCY_WINDOW_SECONDS", default=86400)
# How long a request holds its key: longer than a request can run (gunicorn stops one after
# GUNICORN_TIMEOUT); a retry after a crash waits this long, then takes the key over.
IDEMPOTENCY_LEASE_SECONDS = env.int("IDEMPOTENCY_LEASE_SECONDS", default=env.int("GUNICORN_TIMEOUT", default=30) + 10)
# How long a new API token is valid (maintenance.accounts.models.ApiToken); the admin may choose otherwise.
API_TOKEN_TTL_DAYS = env.int("API_TOKEN_TTL_DAYS", default=90)

# --- security (production values come from the environment) ---------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("USE_X_FORWARDED_PROTO", False) else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts and everything else from this server only; no
# inline script anywhere (the admin, the browsable API, Swagger UI through drf-spectacular's
# split view and Redoc load theirs from files). Inline styles stay allowed: the admin and the
# docs' bundles set style attributes. Photos and thumbnails come from the S3 endpoint, whose
# presigned links the pages show; Redoc's search runs in a blob: worker.
_S3_ORIGIN = urlsplit(AWS_S3_PUBLIC_ENDPOINT_URL or AWS_S3_ENDPOINT_URL or "")
_IMAGE_SOURCES = [f"{_S3_ORIGIN.scheme}://{_S3_ORIGIN.netloc}"] if _S3_ORIGIN.netloc else ["https://*.amazonaws.com"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", *_IMAGE_SOURCES],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- logging ---------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "maintenance.requests": {"level": env("REQUEST_LOG_LEVEL", default="INFO"), "propagate": True},
    },
}
