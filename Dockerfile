# syntax=docker/dockerfile:1
# Kairos container image: one executable, `kairos`, for every role
# (server roles, agent, migrate, operator CLI).
#
#   docker build -t registry.example.com/kairos/kairos:0.1.0 .
#
# Two stages: the builder turns the project and every runtime dependency into
# wheels; the runtime stage installs only those wheels (no compiler, no dev
# extras, no source tree). The base image tag is pinned: bump it on purpose.

FROM python:3.11.14-slim-bookworm AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# What setuptools needs to build the wheel, and nothing else (.dockerignore
# keeps out tests, virtualenvs and caches).
COPY pyproject.toml README.md ./
COPY scheduler ./scheduler
COPY dispatcher ./dispatcher
COPY agent ./agent
COPY proto ./proto
# The kairos wheel plus wheels of its runtime dependencies, without the [dev] extra.
RUN python -m pip wheel --wheel-dir /wheels .


FROM python:3.11.14-slim-bookworm AS runtime

# The root filesystem is read-only in Kubernetes: never try to write .pyc files.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# A numeric uid/gid (10001), the same as runAsUser/runAsGroup in k8s/:
# Kubernetes can only verify runAsNonRoot for a numeric USER.
RUN groupadd --system --gid 10001 kairos \
 && useradd --system --uid 10001 --gid kairos --home-dir /home/kairos \
      --create-home --shell /usr/sbin/nologin kairos

# Install from the builder's wheels only (--no-index: nothing else is fetched
# here). The wheels are bind-mounted, not copied, so they add no layer; pip
# byte-compiles what it installs while the filesystem is still writable.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m pip install --no-index --find-links=/wheels kairos

USER 10001:10001
WORKDIR /home/kairos

# 50051: client API, agent API and grpc.health.v1; 9090: Prometheus metrics.
EXPOSE 50051 9090

ENTRYPOINT ["kairos"]
CMD ["--help"]
