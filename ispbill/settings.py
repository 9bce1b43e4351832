"""Settings from the environment (12-factor). The embedded default needs none of it."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("ISPBILL_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once into var/."""
    if env.str("SECRET_KEY", default=""):
        return env.str("SECRET_KEY")
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

# The address customers reach ispbill at: pay links in emails and the gateway's return URLs.
PUBLIC_URL = env.str("PUBLIC_URL", default="http://localhost:8000")
# Days a pay link in an invoice email or reminder stays valid.
PAY_LINK_DAYS = env.int("PAY_LINK_DAYS", default=120)
# Fernet keys (url-safe base64, 32 bytes) for gateway secrets at rest, newest first; empty:
# one derived from SECRET_KEY. Rotation: put the new key first, run
# `ispbill gateway-rekey`, then drop the old one (docs/payments.md).
GATEWAY_ENCRYPTION_KEYS = env.list("GATEWAY_ENCRYPTION_KEYS", default=[])
# The Stripe API's address; only tests point it elsewhere.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_scopes",
    "ninja",  # its templates and bundled Swagger UI: the API docs need no CDN
    "axes",
    "ispbill.core",
    "ispbill.accounts",
    "ispbill.partners",
    "ispbill.customers",
    "ispbill.catalog",
    "ispbill.subscriptions",
    "ispbill.billing",
    "ispbill.invoicing",
    "ispbill.payments",
    "ispbill.ledger",
    "ispbill.commission",
    "ispbill.dunning",
    "ispbill.radius",
    "ispbill.dataio",
    "ispbill.sepa",
    "ispbill.gateways",
    "ispbill.events",
    "ispbill.web",
    "ispbill.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Unknown /api/ paths and wrong methods answer JSON like every other API error.
    "ispbill.api.middleware.ApiJsonErrorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "ispbill.accounts.middleware.TenantScopeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ispbill.urls"
WSGI_APPLICATION = "ispbill.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ispbill.accounts.context_processors.access",
                "ispbill.web.panel.portal_brand_context",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'ispbill.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's SQLite backend with a flush that the reference guards let through
    # (ispbill/core/guards.py).
    DATABASES["default"]["ENGINE"] = "ispbill.core.backends.sqlite3"
    # WAL lets readers proceed during a billing run; IMMEDIATE takes the write lock at the
    # start of a transaction, so two writers queue instead of failing half-way.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # Tests use an in-memory database per process (said explicitly: pytest-xdist would
    # otherwise name each worker's test database after this backend's file path).
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}
else:
    # Connections kept between requests and tasks: a new PostgreSQL backend costs a process
    # and a cold catalog cache, which a billing run's workers paid once per chunk.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=300)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# FreeRADIUS's SQL tables: in ispbill's database unless RADIUS_DATABASE_URL names another
# (docs/radius.md).
if env.str("RADIUS_DATABASE_URL", default=""):
    DATABASES["radius"] = env.db("RADIUS_DATABASE_URL")
DATABASE_ROUTERS = ["ispbill.radius.routers.RadiusRouter"]

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "ispbill.accounts.backends.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"
# Render and store each invoice's and credit note's PDF right after it is issued (a Celery
# task after commit). Off: `ispbill render-pdfs` renders what has no PDF yet.
RENDER_PDFS_ON_ISSUE = env.bool("RENDER_PDFS_ON_ISSUE", default=True)
# E-mail each issued invoice, with its PDF, to the customer where its issuer is set so
# (Partner.email_invoices_on_issue; docs/documents.md, "Invoices e-mailed on issue"). Off:
# no issuer's invoices are e-mailed on issue (an import of history, a migration's first run).
EMAIL_INVOICES_ON_ISSUE = env.bool("EMAIL_INVOICES_ON_ISSUE", default=True)

SECURE_HTTPS = env.bool("SECURE_HTTPS", default=False)
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)
if SECURE_HTTPS:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
if env.bool("SECURE_PROXY_SSL", default=False):
    # Behind a reverse proxy that terminates TLS and sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Sign-in lockout (django-axes): after LOGIN_FAILURE_LIMIT failures for one user name from
# one address, sign-in is refused for LOGIN_LOCKOUT_MINUTES.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=60))
AXES_LOCKOUT_PARAMETERS = [
    [p.strip() for p in env.str("LOGIN_LOCKOUT_BY", default="username,ip_address").split(",")]
]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False

# Password reset links (sent by email) stay valid this long.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)

# Embedded default: emails are written as files to var/mail/ (read them there). Real
# delivery: EMAIL_URL (smtp://user:password@host:587, smtp+tls://..., smtp+ssl://...), or
# EMAIL_HOST with EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS/SSL.
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_HOST = EMAIL_HOST or "localhost"
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
# Seconds an SMTP connection may block a worker (or, without a broker, the request).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
EMAIL_FILE_PATH = VAR_DIR / "mail"
if env.str("EMAIL_URL", default=""):
    _email = env.email_url("EMAIL_URL")
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email.get("EMAIL_HOST") or EMAIL_HOST
    EMAIL_PORT = _email.get("EMAIL_PORT") or (465 if _email.get("EMAIL_USE_SSL") else 25)
    EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
    EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
    EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
    EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
# The sender of emails whose issuer has no email address.
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="billing@ispbill.local")

# Webhooks: may a partner's endpoint point at a private, loopback or link-local address?
# No by default (a partner must not reach the operator's internal network through ispbill);
# the operator's own endpoints may always.
WEBHOOKS_ALLOW_PRIVATE_URLS = env.bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=False)

# Background work: eager (in-process) unless a broker is configured.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if not CELERY_BROKER_URL:
    # Eager tasks never reach a broker; an in-memory one keeps kombu from guessing one.
    CELERY_BROKER_URL = "memory://"
CELERY_TASK_EAGER_PROPAGATES = True
# A billing run's chord needs a result backend: the Redis broker serves unless one is set.
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else None
)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

BILLING_CHUNK_SIZE = env.int("BILLING_CHUNK_SIZE", default=1000)
# In-process parallel chunks on PostgreSQL (without a Celery broker); 1 = sequential.
# SQLite ignores it (one writer at a time): ispbill/billing/run.py billing_threads.
BILLING_THREADS = env.int("BILLING_THREADS", default=1)
# A run still "running" this many seconds after its start is stuck (its process was killed):
# ``ispbill check`` reports it, and the next run in one process marks it failed (superseded).
BILLING_RUN_TIMEOUT = env.int("BILLING_RUN_TIMEOUT", default=2 * 3600)
# Without a broker, a run started from the web goes on in a thread of the web process (the
# request answers at once); false runs it inside the request (the tests' default).
BILLING_RUN_IN_THREAD = env.bool("BILLING_RUN_IN_THREAD", default=True)
# ``ispbill check`` reports an issued invoice or credit note without its stored PDF this many
# seconds after its issue (when RENDER_PDFS_ON_ISSUE is on).
PDF_MISSING_GRACE = env.int("PDF_MISSING_GRACE", default=3600)
# `ispbill check` reports e-mails still queued this many seconds after their last attempt
# (or their recording): their task was lost. Longer than the retries' 31 minutes.
EMAIL_QUEUED_GRACE = env.int("EMAIL_QUEUED_GRACE", default=3600)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "redact_secrets": {"()": "ispbill.accounts.log_redaction.SecretRedactionFilter"},
        "refusal_one_line": {"()": "ispbill.core.log_filters.RefusalWithoutTraceback"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
    # A 403/404 the app answers on purpose is one line, not a traceback.
    "loggers": {"django.request": {"filters": ["refusal_one_line"]}},
}
