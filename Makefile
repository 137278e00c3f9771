# The targets README shows. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo serve web test lint evaluate evaluate-aside bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## The main job on the embedded default: fetch the seed set, train, publish, print example lists.
demo: $(STAMP)
	$(BIN)/recsys demo

## The recommendations API on the embedded store (after `make demo`).
serve: $(STAMP)
	@echo "try: curl -s localhost:8001/api/v1/users/ml100k:1/recommendations?limit=5"
	$(BIN)/python -m recommendations_api

## The web app on http://127.0.0.1:8080 with everything it needs on the embedded default (after
## `make demo`): the Recommendations API, the Movies API, the online updater and the web app (Procfile),
## one terminal; Ctrl-C stops them all.
web: $(STAMP)
	@echo "the web app: http://127.0.0.1:8080/  (Ctrl-C stops every process)"
	$(BIN)/honcho start --procfile Procfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

## Lint, type-check and run every test (unit, integration against real servers, end to end); first
## installs the Debian packages the tests need (as root) or says which command to run.
test: lint
	scripts/ensure-test-deps
	$(BIN)/pytest

## The evaluation protocols on MovieLens-100K, results (JSON, and a precision / nDCG plot per split
## protocol) committed under benchmarks/results/.
evaluate: $(STAMP)
	$(BIN)/recsys evaluate --output benchmarks/results/evaluation_ml100k.json
	$(BIN)/recsys evaluate --protocol temporal --output benchmarks/results/evaluation_temporal_ml100k.json
	$(BIN)/recsys evaluate --seeds 3 --output benchmarks/results/evaluation_seeds_ml100k.json
	$(BIN)/recsys evaluate --protocol item-cold-start --output benchmarks/results/item_cold_start_ml100k.json
	$(BIN)/recsys evaluate --protocol item-cold-start --keep-first 2 \
	    --output benchmarks/results/item_first_ratings_ml100k.json
	$(BIN)/recsys evaluate --protocol fold-in --output benchmarks/results/fold_in_ml100k.json
	$(BIN)/recsys evaluate --protocol similar --output benchmarks/results/similar_films_ml100k.json

## The set kept aside for checking (MovieLens latest-small, October 2016; fetched once into the cache):
## the random split over 3 seeds and the temporal split over 3 model seeds, engine vs EASE vs
## popularity with the same defaults as on MovieLens-100K (about 25 minutes on 2 busy cores).
ASIDE := --data-set ml-latest-small --seeds 3 --models popularity,ease,engine
evaluate-aside: $(STAMP)
	$(BIN)/recsys evaluate $(ASIDE) --output benchmarks/results/evaluation_seeds_ml_latest_small.json
	$(BIN)/recsys evaluate $(ASIDE) --protocol temporal \
	    --output benchmarks/results/evaluation_temporal_ml_latest_small.json

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
