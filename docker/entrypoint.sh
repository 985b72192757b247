#!/bin/sh
# Container entrypoint.
#
#   entrypoint.sh release     apply migrations (and the optional set-up below), then exit
#   entrypoint.sh CMD ...     run CMD (gunicorn by default); with RUN_MIGRATIONS=1 the
#                             release steps run first
#
# Release steps, in the order `make run` does them:
#   python manage.py migrate --noinput                   always
#   python manage.py load_demo_data                      when LOAD_DEMO_DATA=1 (idempotent)
#   python manage.py ensure_admin                        when DJANGO_SUPERUSER_PASSWORD is set
#
# Replicas behind a proxy must not migrate concurrently: docker-compose.yml runs
# `release` once in its `migrate` service and starts the app replicas with RUN_MIGRATIONS=0.
set -eu

release() {
    DATABASE_STATEMENT_TIMEOUT_MS=0 python manage.py migrate --noinput
    if [ "${LOAD_DEMO_DATA:-0}" = "1" ]; then
        python manage.py load_demo_data
    fi
    if [ -n "${DJANGO_SUPERUSER_PASSWORD:-}" ]; then
        python manage.py ensure_admin
    fi
}

if [ "${1:-}" = "release" ]; then
    release
    exit 0
fi

if [ "${RUN_MIGRATIONS:-0}" = "1" ]; then
    release
fi

exec "$@"
