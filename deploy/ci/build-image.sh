#!/usr/bin/env bash
# `make image`: build the Dockerfile without a daemon or a registry, then smoke-test the image.
#
# CI reaches Debian's packages and PyPI, and no container registry: the base image is a
# bookworm root file system made by debootstrap (python3, python3-venv), imported and tagged
# locally, with this machine's trust store so that pip inside the build reaches PyPI as the
# machine does. buildah builds with chroot isolation (no daemon, no nested namespaces).
# The smoke test runs the image's own entrypoint: `migrate` on a new PostgreSQL database, then
# `serve`, and checks /health, /ready and the image's HEALTHCHECK command.
#
# Needs root, buildah and debootstrap (apt-get install buildah debootstrap), PostgreSQL at
# PG_SERVER. With Docker at hand, `docker build -t py-auth .` is all a developer needs.
set -euo pipefail
cd "$(dirname "$0")/../.."

BASE=localhost/py-auth-ci-base:bookworm
IMAGE="${IMAGE:-localhost/py-auth:ci}"
PG_SERVER="${PG_SERVER:-postgresql+asyncpg://postgres@127.0.0.1:5432}"
TRUST_STORE=/etc/ssl/certs/ca-certificates.crt
# vfs: no overlay mounts needed, which a container or a VM may not allow.
buildah() { command buildah --storage-driver vfs "$@"; }

if ! buildah inspect --type image "$BASE" >/dev/null 2>&1; then
  echo "== base image $BASE (debootstrap bookworm)"
  rootfs="$(mktemp -d)"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
  cp "$TRUST_STORE" "$rootfs$TRUST_STORE"
  container="$(buildah from scratch)"
  mountpoint="$(buildah mount "$container")"
  cp -a "$rootfs"/. "$mountpoint"/
  buildah umount "$container" >/dev/null
  buildah config --env PIP_CERT="$TRUST_STORE" --env SSL_CERT_FILE="$TRUST_STORE" "$container"
  buildah commit --quiet "$container" "$BASE" >/dev/null
  buildah rm "$container" >/dev/null
  rm -rf "$rootfs"
fi

echo "== build $IMAGE from the Dockerfile (BASE_IMAGE=$BASE)"
# The docker format: OCI images have no HEALTHCHECK.
buildah bud --quiet --format docker --isolation chroot --network host \
  --build-arg BASE_IMAGE="$BASE" -t "$IMAGE" . >/dev/null

echo "== smoke test: migrate, serve, /health, /ready, HEALTHCHECK"
database="pyauth_image_$(date +%s)_$$"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
secret="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
psql -h 127.0.0.1 -U postgres -d postgres -q -c "CREATE DATABASE \"$database\""
container="$(buildah from "$IMAGE")"
server=""
# The server's process: buildah run does not pass a signal on to it.
uvicorn_pid() { ss -ltnpH "sport = :$port" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2; }
cleanup() {
  pid="$(uvicorn_pid || true)"
  if [ -n "$pid" ]; then kill -TERM "$pid" || true; fi
  if [ -n "$server" ]; then wait "$server" 2>/dev/null || true; fi
  buildah rm "$container" >/dev/null 2>&1 || true
  psql -h 127.0.0.1 -U postgres -d postgres -q -c "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)"
}
trap cleanup EXIT
# The image's settings, as a deployment gives them: the environment, no file.
in_image() {
  buildah run --isolation chroot --network host \
    --env JWT_SECRET="$secret" --env DATABASE_URL="$PG_SERVER/$database" \
    --env HOST=127.0.0.1 --env PORT="$port" "$container" -- "$@"
}
# The entrypoint's commands, as `docker compose run --rm app migrate` and the image's CMD run them.
in_image py-auth migrate 2>&1 | tail -n 1
in_image py-auth serve >"${TMPDIR:-/tmp}/py-auth-image-$port.log" 2>&1 &
server=$!
for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
  sleep 0.5
done
curl -sSf "http://127.0.0.1:$port/health"; echo
curl -sSf "http://127.0.0.1:$port/ready"; echo
# The HEALTHCHECK of the image, run inside it as the container engine would.
mapfile -d '' -t healthcheck_command < <(buildah inspect --type image "$IMAGE" | python3 -c '
import json, sys
test = json.load(sys.stdin)["Docker"]["config"]["Healthcheck"]["Test"]
assert test[0] == "CMD", test
print("\0".join(test[1:]), end="")')
in_image "${healthcheck_command[@]}"
echo "HEALTHCHECK passes"
# No secret baked in: the settings that hold one come from the environment at run time.
if buildah inspect --type image --format '{{range .OCIv1.Config.Env}}{{println .}}{{end}}' "$IMAGE" \
  | grep -E '^(JWT_SECRET|DATABASE_URL|METRICS_TOKEN|ENCRYPTION_KEYS|MAIL_URL)='; then
  echo "!! the image's environment holds a secret"; exit 1
fi
echo "no secret in the image's environment"
user="$(buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$IMAGE")"
case "${user%%:*}" in
  "" | 0 | root) echo "!! the image runs as root ($user)"; exit 1 ;;
  *) echo "runs as user $user" ;;
esac
echo "== image $IMAGE: built and smoke-tested"
