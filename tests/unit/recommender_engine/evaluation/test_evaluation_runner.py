import json

import pytest

from recommender_engine.evaluation.runner import MODEL_NAMES, run_evaluation
from recommender_engine.model.hybrid import ModelConfig

FAST_ENGINE = ModelConfig(no_components=8, epochs=10, num_threads=1)


def test_every_model_is_evaluated_and_reported(ratings, films):
    report = run_evaluation(ratings, films, k=5, engine_config=FAST_ENGINE)
    payload = report.to_dict()
    json.dumps(payload)  # JSON-ready
    assert list(payload["models"]) == list(MODEL_NAMES)
    assert payload["protocol"]["k"] == 5
    assert payload["protocol"]["seed"] == 42
    assert payload["dataset"]["users"] == 60
    assert payload["dataset"]["test_ratings"] == 60 * 3
    assert payload["dataset"]["train_ratings"] + payload["dataset"]["test_ratings"] == len(ratings)
    for name, result in payload["models"].items():
        for metric in ("precision", "recall", "ndcg", "map", "coverage"):
            assert 0.0 <= result[metric] <= 1.0, (name, metric)
        assert result["fit_seconds"] >= 0 and result["score_seconds"] >= 0
        assert isinstance(result["config"], dict)
    models = payload["models"]
    # taste-aware models must beat the one-list-for-all baselines on two-taste data
    for personal in ("ease", "engine", "lightfm_plain", "als"):
        assert models[personal]["precision"] > models["popularity"]["precision"], personal
    assert models["engine"]["config"] == FAST_ENGINE.model_dump(mode="json")


def test_table_has_a_row_per_model_with_aligned_columns(ratings, films):
    table = run_evaluation(ratings, films, models=["popularity", "ease"], k=3).to_table()
    lines = table.splitlines()
    assert lines[1].split() == ["model", "P@3", "R@3", "nDCG@3", "MAP@3", "coverage", "fit", "s", "score", "s"]
    assert [line.split()[0] for line in lines[3:]] == ["popularity", "ease"]
    assert len({len(line) for line in lines[1:]}) == 1


def test_the_report_is_reproducible_for_deterministic_models(ratings, films):
    first = run_evaluation(ratings, films, models=["popularity", "ease"])
    second = run_evaluation(ratings.sample(frac=1.0, random_state=1), films, models=["popularity", "ease"])
    for a, b in zip(first.results, second.results, strict=True):
        assert a.metrics == b.metrics


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"models": ["nope"]}, "unknown model name"), ({"models": []}, "unknown model name"), ({"k": 0}, "k must")],
)
def test_bad_arguments_are_refused(ratings, films, kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_evaluation(ratings, films, **kwargs)
