# One image for Maestro's three processes (docs/deploy.md). The container's command picks the
# process: bin/web (the default), bin/worker or bin/scheduler; the chart's migration Job runs
# `python3 manage.py migrate`. Runs as an unprivileged user on a read-only root filesystem:
# nothing is written outside /tmp (give it a writable volume there).
#
# PYTHON_IMAGE: any Debian bookworm image with Python 3.11 (python3 -m venv) works; the
# default is the official slim one.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the virtualenv with the pinned requirements, and the collected static files -------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/python -m pip install --no-cache-dir -r /tmp/requirements.txt \
 && /opt/venv/bin/python -m pip uninstall --yes pip
WORKDIR /app
COPY . /app
# Settings refuse production without a secret key and a ledger signing key; collectstatic uses
# neither, so throwaway values are given to this one command (they are in no layer's env).
# STATIC_ROOT is MAESTRO_VAR_DIR/static, read-only at run time (WhiteNoise serves it).
RUN MAESTRO_ENV=production \
    MAESTRO_SECRET_KEY=collectstatic-at-build-time-only-never-used-to-sign \
    MAESTRO_LEDGER_SIGNING_KEY=collectstatic-at-build-time-only \
    /opt/venv/bin/python manage.py collectstatic --noinput --verbosity 0 \
 && /opt/venv/bin/python -m compileall -q /app

# --- runtime: the interpreter, the virtualenv and the application; no compiler, no pip -------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="maestro" \
      org.opencontainers.image.description="Maestro orchestration control plane: bin/web, bin/worker or bin/scheduler"
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
# HOME and TMPDIR point at /tmp, the one writable place (an emptyDir in the chart); no .pyc is
# written at run time (they were compiled at build).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    MAESTRO_ENV=production \
    MAESTRO_HOST=0.0.0.0 \
    MAESTRO_PORT=8000
USER 10001:10001
EXPOSE 8000
CMD ["bin/web"]
