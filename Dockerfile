# qsan-exporter container image.
#
#   docker build -t qsan-exporter:0.1.0 .
#   docker run -d -p 9747:9747 \
#     -v /etc/qsan-exporter/qsan_exporter.yml:/etc/qsan-exporter/qsan_exporter.yml:ro \
#     -v /etc/qsan-exporter/password:/run/secrets/qsan_password:ro \
#     -v qsan-exporter-state:/var/lib/qsan-exporter \
#     qsan-exporter:0.1.0
#
# Nothing secret or site-specific is baked in: the config and the password file are mounted
# (docs/deployment.md). Both stages use the same base image, so the virtual environment built in
# the first one runs unchanged in the second (its scripts name /opt/qsan-exporter/bin/python).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/qsan-exporter
WORKDIR /src
# Only what the package build reads (pyproject names README.md as the long description).
COPY pyproject.toml README.md ./
COPY qsan_exporter ./qsan_exporter
RUN /opt/qsan-exporter/bin/pip install . \
    && /opt/qsan-exporter/bin/python -m compileall -q /opt/qsan-exporter

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="qsan-exporter" \
      org.opencontainers.image.description="Prometheus exporter for QSAN storage arrays" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can check it and file modes on mounted
# secrets can be granted to it.
# /var/lib/qsan-exporter: the state directory (each array's token set, so that a restart after
# a crash reuses or revokes it), owner-only. Mount a volume there to keep it across containers
# (compose: a named volume; Kubernetes: an emptyDir, which outlives container restarts).
RUN groupadd --system --gid 10001 qsan \
    && useradd --system --uid 10001 --gid qsan --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin qsan \
    && install -d -m 0700 -o 10001 -g 10001 /var/lib/qsan-exporter
COPY --from=builder /opt/qsan-exporter /opt/qsan-exporter
ENV PATH=/opt/qsan-exporter/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    STATE_DIRECTORY=/var/lib/qsan-exporter
USER 10001:10001
WORKDIR /
EXPOSE 9747
# No curl in slim images. /-/healthy answers 200 while the process serves; set
# QSAN_HEALTHCHECK_URL when listening elsewhere (or override/disable the check when the web
# config requires TLS client certificates or basic auth).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; r = urllib.request.urlopen(os.environ.get('QSAN_HEALTHCHECK_URL', 'http://127.0.0.1:9747/-/healthy'), timeout=4); sys.exit(0 if r.status == 200 else 1)"]
ENTRYPOINT ["qsan-exporter"]
CMD ["--config.file=/etc/qsan-exporter/qsan_exporter.yml"]
