# Mercado Abierto: the app (`marketplace serve`, granian) and the worker (`marketplace worker`) image.
# docker-compose.yml runs both from it, with PostgreSQL, Redis and Meilisearch beside them.

# --- build: install the project and its dependencies into a virtual environment --------------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
# Dependencies first (a layer that changes only with pyproject.toml), then the code.
COPY pyproject.toml README.md ./
RUN mkdir -p marketplace suppliers tenders search && touch piccolo_conf.py \
    && /opt/venv/bin/pip install . \
    && /opt/venv/bin/pip uninstall -y mercado-abierto
COPY marketplace ./marketplace
COPY suppliers ./suppliers
COPY tenders ./tenders
COPY search ./search
COPY piccolo_conf.py ./
RUN /opt/venv/bin/pip install --no-deps .

# --- run: a slim image, a non-root user ----------------------------------------------------------------------
FROM python:3.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /home/marketplace marketplace \
    && install -d -o marketplace -g marketplace /var/lib/marketplace
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MODE=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/var/lib/marketplace
USER marketplace
WORKDIR /home/marketplace
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${PORT}/health" || exit 1
# Production mode refuses to start without DATABASE_URL, REDIS_URL and real keys (see README).
# `serve` applies pending migrations first (under an advisory lock, so replicas may start together).
CMD ["marketplace", "serve"]
