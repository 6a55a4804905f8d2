#!/bin/sh
# How py-auth is started wherever it runs: the image's entrypoint, the systemd units and the
# topology test (backend/tests/deploy) all run this file, from the backend folder, with the
# virtualenv's bin first on PATH.
#
#   entrypoint.sh serve      the API on $HOST:$PORT (default 0.0.0.0:8000)
#   entrypoint.sh migrate    apply the migrations, once per release, before the new processes
#   entrypoint.sh cli ...    an operator command (python -m app.cli ...: create-admin, purge-tokens)
set -eu

command="${1:-serve}"
[ "$#" -gt 0 ] && shift

case "$command" in
  serve)
    # --no-proxy-headers: TRUSTED_PROXIES alone says whose X-Forwarded-For is believed.
    # --no-access-log: py-auth writes its own line per request.
    # --timeout-graceful-shutdown: on SIGTERM, requests in flight get this long to finish;
    # a Kubernetes terminationGracePeriodSeconds must exceed it plus the preStop pause.
    exec python -m uvicorn --factory app.main:create_app \
      --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" \
      --no-access-log --no-proxy-headers \
      --timeout-graceful-shutdown "${GRACEFUL_SHUTDOWN_SECONDS:-20}" "$@"
    ;;
  migrate)
    exec python -m alembic upgrade head
    ;;
  cli)
    exec python -m app.cli "$@"
    ;;
  *)
    echo "usage: entrypoint.sh serve | migrate | cli <command> (not: $command)" >&2
    exit 64
    ;;
esac
