# py-auth's image: the API under uvicorn, as deploy/entrypoint.sh starts it.
#
#   docker build -t py-auth .
#   docker run --rm --env-file .env py-auth migrate   # once per release, before new replicas
#   docker run --rm --env-file .env -p 8000:8000 py-auth
#
# BASE_IMAGE: any Debian-like image with Python 3.11+ and python3 -m venv; CI builds on a
# bookworm root file system of Debian's packages, since no registry is reachable there
# (make image, README's "What CI proves").
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS dependencies
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# The pinned runtime set only: no test or lint tools in the image.
COPY backend/requirements.txt /tmp/requirements.txt
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt

FROM ${BASE_IMAGE}
# A user of its own, without a shell or a home: the process owns no file it runs.
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin py-auth
COPY --from=dependencies /opt/venv /opt/venv
WORKDIR /app
COPY backend/alembic.ini ./
COPY backend/alembic ./alembic
COPY backend/app ./app
COPY deploy/entrypoint.sh /usr/local/bin/py-auth
# No secret here: JWT_SECRET, DATABASE_URL and the rest come from the environment at run time.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    LOG_FORMAT=json
USER 10001:10001
EXPOSE 8000
# Liveness only: /health never touches the database (readiness is /ready, for the proxy).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/health', timeout=2)"]
ENTRYPOINT ["py-auth"]
CMD ["serve"]
