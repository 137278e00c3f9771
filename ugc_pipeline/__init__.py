"""UGC pipeline: the loader that moves rating events from Kafka to ClickHouse.

Run it with ``python -m ugc_pipeline`` (settings: ``ugc_pipeline.settings.UgcSettings``). It knows
the event schema (``recsys_common.events``) and the ClickHouse writer, nothing else.
"""
