"""``python -m ugc_pipeline``: run the Kafka -> ClickHouse loader until SIGTERM or SIGINT."""

from __future__ import annotations

from ugc_pipeline.bootstrap import main

raise SystemExit(main())
