# syntax=docker/dockerfile:1
#
# One image for every mss process, built from the repository root:
#
#   docker build -t mss:local .
#   docker run --rm mss:local python -m mss.ingress     # or policy, directory, storage, egress, tracing
#   docker run --rm mss:local python -m mss.db migrate  # the schema (MSS_DATABASE_URL)
#   docker run --rm mss:local mss --help                # the operator's command line
#
# The image has no default service: the command names it (docker-compose.yml does). Configuration is
# the MSS_<SERVICE>_* environment variables of each service's settings.py. Production pins both base
# images by digest (image@sha256:...); the tags below are what the digests are taken from.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

# ---- builder: the virtual environment, in two uv sync steps -------------------------------------
FROM ${PYTHON_IMAGE} AS builder
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/opt/mss/venv
WORKDIR /src

# The workspace members the image runs, and so their dependencies only. Not the workspace root: it
# also depends on mss-devstack (embedded PostgreSQL, nats-server) and mss-testing (pytest), which
# serve `task up` and the tests. --no-dev leaves out the root's dev group (linters, type checkers).
ARG PACKAGES="mss-ingress mss-policy mss-directory mss-storage mss-egress mss-tracing mss-db mss-cli mss-controller"

# 1. Third-party dependencies, from uv.lock and the root pyproject.toml alone: this layer is rebuilt
#    only when they change, not when the code does.
#    ($PACKAGES is split on purpose: one --package flag per member.)
# hadolint ignore=SC2046
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-workspace $(printf -- '--package %s ' $PACKAGES)

# 2. The workspace members, as wheels (not editable): the runtime stage needs no source tree.
COPY pyproject.toml uv.lock ./
COPY libs libs
COPY services services
# hadolint ignore=SC2046
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable $(printf -- '--package %s ' $PACKAGES)

# ---- runtime: the base image, one user and the virtual environment -----------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG PYTHON_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="mss" \
      org.opencontainers.image.description="MSSanté operator backbone: python -m mss.<ingress|policy|directory|storage|egress|tracing>, python -m mss.db migrate, mss" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"

# A fixed uid/gid (10001) that owns nothing in the image: the code and the virtual environment belong
# to root and are read-only for the services, which write only to /tmp (a tmpfs in compose).
RUN groupadd --system --gid 10001 mss \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin mss
COPY --from=builder /opt/mss/venv /opt/mss/venv

# Bytecode was compiled in the builder; nothing is written beside the code at run time.
ENV PATH=/opt/mss/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
WORKDIR /tmp
USER 10001:10001

# SMTP (ingress: peer operators, submission) and the HTTP endpoints (/healthz, /readyz, /metrics,
# the audit UI and API of tracing, the admin API of directory), at the ports `task up` uses.
EXPOSE 2525 5587 8080 8081 9101 9102 9103 9104

# /healthz of whichever service runs: the port is the one MSS_<SERVICE>_HTTP_PORT variable set (the
# container of one service carries only its own); HTTPS when MSS_<SERVICE>_HTTP_TLS_CERT_FILE is set.
# No variable, no endpoint: the check fails, so set the port. Kubernetes ignores this (probes).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, ssl, urllib.request; env = os.environ; port = [v for k, v in env.items() if k.startswith('MSS_') and k.endswith('_HTTP_PORT')][0]; tls = any(v for k, v in env.items() if k.startswith('MSS_') and k.endswith('_HTTP_TLS_CERT_FILE')); context = ssl.create_default_context(); context.check_hostname = False; context.verify_mode = ssl.CERT_NONE; urllib.request.urlopen(('https' if tls else 'http') + '://127.0.0.1:' + port + '/healthz', timeout=4, context=context)"]

CMD ["python", "-c", "raise SystemExit('mss: name the process to run, e.g. python -m mss.ingress (ingress, policy, directory, storage, egress, tracing), python -m mss.db migrate, or mss --help')"]
