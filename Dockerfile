# syntax=docker/dockerfile:1
#
# Maintenance Service image: gunicorn serving the Django project, static files
# collected at build time and served by whitenoise. All configuration comes from
# the environment at run time (see .env.example); nothing secret is baked in.
#
#   docker build -t maintenance-service .
#   docker compose up --build            # the whole stack, see docker-compose.yml

ARG PYTHON_IMAGE=python:3.12-slim

# --- builder: the pinned runtime requirements, as wheels, in a venv ----------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# Only the requirements first, so code changes do not reinstall dependencies. The lock pins
# every package, transitive ones included, with its hashes: pip refuses anything else.
COPY requirements/base.lock /tmp/requirements/base.lock
RUN pip install --upgrade pip \
    && pip install --prefer-binary --require-hashes -r /tmp/requirements/base.lock

# --- runtime: the venv and the code, run as an unprivileged user ------------
FROM ${PYTHON_IMAGE} AS runtime

# Production defaults; each can be overridden with `docker run -e` or in compose.
# RUN_MIGRATIONS=1: a single container applies migrations before it serves;
# scaled-out replicas set 0 and leave that to one `release` run (docker-compose.yml).
# DEV_STATE_DIR: a writable place for `manage.py ensure_admin` without a password.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=maintenance.settings \
    DEBUG=false \
    GUNICORN_BIND=0.0.0.0:8000 \
    STATIC_ROOT=/app/staticfiles \
    RUN_MIGRATIONS=1 \
    DEV_STATE_DIR=/tmp/maintenance-state

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
# The code stays owned by root: the app user can read it but not change it.
COPY . /app
RUN chmod 0755 /app/docker/entrypoint.sh

# Static files are part of the image (whitenoise serves them). Settings refuse to
# load without these variables, so collectstatic gets throw-away values that exist
# only for this one command; neither the database nor S3 is contacted.
RUN SECRET_KEY=collectstatic-only-not-a-secret \
    DATABASE_URL=postgres://collectstatic@localhost/collectstatic \
    AWS_STORAGE_BUCKET_NAME=collectstatic \
    python manage.py collectstatic --noinput -v0

USER app

EXPOSE 8000

# No curl in the slim image: the check is a few lines of Python against /health/,
# which verifies the database and the bucket.
HEALTHCHECK --interval=30s --timeout=6s --start-period=30s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py"]

ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "maintenance.wsgi"]
