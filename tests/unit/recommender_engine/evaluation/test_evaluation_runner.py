import json
import statistics

import numpy as np
import pytest

from recommender_engine.evaluation.plot import write_curves_plot
from recommender_engine.evaluation.runner import CURVE_DEPTH, MODEL_NAMES, has_imdb_data, run_evaluation, run_seeds
from recommender_engine.model.hybrid import ModelConfig
from recsys_common.columns import Columns

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


def test_the_temporal_split_is_a_strategy_of_the_same_run(ratings, films):
    report = run_evaluation(ratings, films, split="temporal", test_fraction=0.3, models=["popularity", "ease"])
    payload = report.to_dict()
    assert payload["protocol"]["split"].startswith("per-user temporal")
    assert payload["dataset"]["test_ratings"] == 60 * 4  # round(12 * 0.3)
    assert "temporal" in report.to_table().splitlines()[0]
    with pytest.raises(ValueError, match="unknown split"):
        run_evaluation(ratings, films, split="sideways")


def test_seeds_report_mean_and_std_over_the_seeds(ratings, films):
    report = run_seeds(ratings, films, seeds=[1, 2, 3], models=["popularity", "ease"], k=5)
    payload = report.to_dict()
    json.dumps(payload)
    assert payload["protocol"]["seeds"] == [1, 2, 3]
    assert "seed" not in payload["protocol"] and "model_seed" not in payload["protocol"]
    for name in ("popularity", "ease"):
        model = payload["models"][name]
        assert list(model["seeds"]) == ["1", "2", "3"]
        for metric in ("precision", "ndcg", "recall", "map", "coverage"):
            values = [model["seeds"][seed][metric] for seed in ("1", "2", "3")]
            assert model["mean"][metric] == pytest.approx(statistics.mean(values))
            assert model["std"][metric] == pytest.approx(statistics.stdev(values))
        assert model["std"]["precision"] > 0  # different splits, different figures
        assert len(model["curves"]["precision"]) == CURVE_DEPTH
    assert " ± " in report.to_table().splitlines()[3]
    with pytest.raises(ValueError, match="seeds must differ"):
        run_seeds(ratings, films, seeds=[1, 1])


def test_on_the_temporal_split_seeds_only_vary_the_models_init(ratings, films):
    report = run_seeds(ratings, films, seeds=[1, 2], split="temporal", test_fraction=0.3, models=["ease"])
    model = report.to_dict()["models"]["ease"]
    assert model["std"]["precision"] == 0.0  # same split, deterministic model
    assert "init only" in report.to_dict()["protocol"]["seed_varies"]


def test_imdb_top_is_skipped_with_a_message_without_imdb_data(ratings, films):
    bare = films.assign(**{Columns.ImdbRating: np.nan, Columns.ImdbVotes: np.nan})
    report = run_evaluation(ratings, bare, models=["popularity", "imdb_top"])
    assert [result.name for result in report.results] == ["popularity"]
    assert "imdb_top" in report.to_dict()["skipped"]
    assert "imdb_top skipped: the films have no IMDb data" in report.to_table()
    assert not has_imdb_data(films.drop(columns=[Columns.ImdbVotes]))
    assert has_imdb_data(films)
    with pytest.raises(ValueError, match="nothing to evaluate"):
        run_evaluation(ratings, bare, models=["imdb_top"])


def test_the_curves_plot_is_a_png(ratings, films, tmp_path):
    report = run_evaluation(ratings, films, models=["popularity", "ease"], curve_depth=10)
    curves = report.curves()
    assert set(curves) == {"popularity", "ease"} and curves["ease"]["k"] == list(range(1, 11))
    path = write_curves_plot(tmp_path / "out" / "evaluation.png", curves, "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
