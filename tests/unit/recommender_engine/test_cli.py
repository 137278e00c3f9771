"""The CLI's exit codes and messages on the embedded default (SQLite files in a temporary folder)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recommender_engine.cli import EXIT_DATA_UNAVAILABLE, EXIT_FAILED, app
from recommender_engine.evaluation.runner import MODEL_NAMES

runner = CliRunner()


@pytest.fixture(autouse=True)
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "CLICKHOUSE_URL", "KAFKA_BOOTSTRAP", "ELASTICSEARCH_URL", "POSTGRES_DSN"):
        monkeypatch.delenv(f"RECSYS_{name}", raising=False)
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RECSYS_CACHE_DIR", str(tmp_path / "cache"))


def _movielens(directory: Path, ratings: str) -> Path:
    directory.mkdir()
    (directory / "movies.csv").write_text("movieId,title,genres\n1,Alpha (1999),Comedy\n2,Beta (2001),Drama\n")
    (directory / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + ratings)
    return directory


def test_run_without_seed_says_to_run_data_first():
    result = runner.invoke(app, ["run"])
    assert result.exit_code == EXIT_DATA_UNAVAILABLE
    assert "recsys data" in result.output


def test_show_before_anything_was_published_fails_clearly():
    result = runner.invoke(app, ["show", "someone"])
    assert result.exit_code == EXIT_FAILED
    assert "no version published yet" in result.output


def test_rollback_without_an_earlier_version_fails():
    result = runner.invoke(app, ["rollback"])
    assert result.exit_code == EXIT_FAILED
    assert "no earlier version" in result.output


def test_evaluate_without_seed_is_data_unavailable():
    result = runner.invoke(app, ["evaluate"])
    assert result.exit_code == EXIT_DATA_UNAVAILABLE


def test_bad_rating_in_a_movielens_file_names_file_and_line(tmp_path):
    source = _movielens(tmp_path / "ml", "1,1,4.0,100\n1,2,11,200\n")
    result = runner.invoke(app, ["data", "--movielens-dir", str(source)])
    assert result.exit_code == EXIT_FAILED
    assert "ratings.csv" in result.output
    assert "line 3" in result.output


def test_zero_ratings_publish_cold_start_lists_only(tmp_path):
    source = _movielens(tmp_path / "ml", "")
    assert runner.invoke(app, ["data", "--movielens-dir", str(source)]).exit_code == 0, "an empty set is valid"
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 0, result.output
    shown = runner.invoke(app, ["show", "anybody"])
    assert "cold start" in shown.output
    assert "Alpha" in shown.output


def test_schedule_refuses_a_bad_cron_expression(tmp_path):
    result = runner.invoke(app, ["schedule", "--cron", "not a cron"])
    assert result.exit_code == 2
    assert "bad cron expression" in result.output


def test_status_exits_1_before_anything_is_published_and_0_after(tmp_path):
    before = runner.invoke(app, ["status", "--json"])
    assert before.exit_code == EXIT_FAILED
    assert json.loads(before.stdout)["healthy"] is False
    source = _movielens(tmp_path / "ml", "1,1,4.0,100\n2,2,3.0,200\n")
    assert runner.invoke(app, ["data", "--movielens-dir", str(source)]).exit_code == 0
    assert runner.invoke(app, ["run"]).exit_code == 0
    after = runner.invoke(app, ["status", "--json"])
    assert after.exit_code == 0, after.output
    body = json.loads(after.stdout)
    assert body["healthy"] is True
    assert (body["serving"]["users"], body["serving"]["films"]) == (2, 2)
    assert body["last_cycle"]["status"] == "published"
    assert runner.invoke(app, ["status"]).exit_code == 0


def test_data_writes_the_films_into_the_catalogue_that_show_reads(tmp_path):
    source = _movielens(tmp_path / "ml", "1,1,4.0,100\n")
    assert runner.invoke(app, ["data", "--movielens-dir", str(source)]).exit_code == 0
    assert runner.invoke(app, ["run"]).exit_code == 0
    shown = runner.invoke(app, ["show", "csv:1"])
    assert shown.exit_code == 0, shown.output
    assert "csv:1: must_watch\n   1. Beta" in shown.output  # the one film user 1 has not rated, titled


def test_status_never_prints_the_redis_password(monkeypatch):
    monkeypatch.setenv("RECSYS_REDIS_URL", "redis://:hunter2@127.0.0.1:1/0")
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == EXIT_FAILED  # nothing listens there
    assert "hunter2" not in result.output


def test_data_if_empty_loads_the_seed_once(tmp_path):
    source = _movielens(tmp_path / "ml", "1,1,4.0,100\n2,2,3.0,200\n")
    first = runner.invoke(app, ["data", "--if-empty", "--movielens-dir", str(source)])
    assert first.exit_code == 0 and "2 new rating(s) appended" in first.output
    again = runner.invoke(app, ["data", "--if-empty", "--movielens-dir", str(source)])
    assert again.exit_code == 0 and "not loaded again" in again.output
    assert "appended" not in again.output


def test_an_unknown_recsys_variable_is_warned_about_at_start(monkeypatch):
    monkeypatch.setenv("RECSYS_MODLE__EPOCHS", "3")
    monkeypatch.setenv("RECSYS_LOG_FORMAT", "text")
    result = runner.invoke(app, ["status"])
    assert "unknown setting RECSYS_MODLE__EPOCHS" in result.output
    assert "did you mean RECSYS_MODEL__EPOCHS?" in result.output


def test_evaluate_help_lists_the_model_names():
    result = runner.invoke(app, ["evaluate", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = " ".join(result.output.replace("│", " ").split())
    for name in MODEL_NAMES:
        assert name in text


def test_evaluate_temporal_on_a_set_without_imdb_data_skips_imdb_top_and_writes_a_plot(tmp_path):
    lines = "".join(
        f"{user},{film},4.0,{100 * film + user}\n" for user in range(1, 7) for film in (1, 2) if film <= user
    )
    source = _movielens(tmp_path / "ml", lines)
    output = tmp_path / "results" / "temporal.json"
    result = runner.invoke(
        app,
        [
            *("evaluate", "--movielens-dir", str(source), "--protocol", "temporal"),
            *("--models", "popularity,imdb_top", "--output", str(output)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "imdb_top skipped" in result.output
    payload = json.loads(output.read_text())
    assert payload["protocol"]["test_fraction"] == 0.3
    assert list(payload["models"]) == ["popularity"]
    assert output.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_refuses_seeds_on_other_protocols():
    result = runner.invoke(app, ["evaluate", "--protocol", "fold-in", "--seeds", "2"])
    assert result.exit_code != 0
    assert "--seeds applies to" in result.output


def test_tune_stores_the_winner_that_status_then_shows(tmp_path):
    films = "".join(f"{i},Film {i} (1999),{'Comedy' if i % 2 else 'Drama'}\n" for i in range(1, 13))
    rows = "".join(f"{u},{f},4.0,{100 * u + f}\n" for u in range(1, 21) for f in range(1 + u % 2, 13, 2))
    source = tmp_path / "ml"
    source.mkdir()
    (source / "movies.csv").write_text("movieId,title,genres\n" + films)
    (source / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + rows)
    output = tmp_path / "tuning.json"

    result = runner.invoke(
        app,
        ["tune", "--movielens-dir", str(source), "--trials", "2", "--budget-seconds", "60", "--output", str(output)],
    )

    assert result.exit_code == 0, result.output
    assert "best" in result.output and "nDCG@10" in result.output
    tuned = json.loads((tmp_path / "var" / "tuned_model.json").read_text())
    assert set(tuned) == {"model", "validation", "tuned_at"}
    assert tuned["validation"]["best_ndcg"] >= tuned["validation"]["base_ndcg"]
    assert len(json.loads(output.read_text())["trials"]) == 2
    assert "model tuned at" in runner.invoke(app, ["status"]).output


def test_evaluate_similar_writes_its_report_and_plot(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_MODEL__EPOCHS", "2")
    lines = "".join(f"{user},{film},4.0,{100 * film + user}\n" for user in range(1, 9) for film in (1, 2))
    source = _movielens(tmp_path / "ml", lines)
    output = tmp_path / "results" / "similar.json"
    result = runner.invoke(
        app, ["evaluate", "--movielens-dir", str(source), "--protocol", "similar", "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(output.read_text())
    assert payload["protocol"]["k"] == 20
    assert {"engine", "genre_overlap", "co_occurrence", "random"} <= set(payload["results"])
    assert output.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def _twelve_films(directory: Path) -> Path:
    films = "".join(f"{i},Film {i} (1999),{'Comedy' if i % 2 else 'Drama'}\n" for i in range(1, 13))
    rows = "".join(f"{u},{f},4.0,{100 * u + f}\n" for u in range(1, 21) for f in range(1 + u % 2, 13, 2))
    directory.mkdir()
    (directory / "movies.csv").write_text("movieId,title,genres\n" + films)
    (directory / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + rows)
    return directory


def test_schedule_refuses_a_bad_tuning_cron_expression(monkeypatch):
    monkeypatch.setenv("RECSYS_TUNE_CRON", "0 3 * * 8")
    result = runner.invoke(app, ["schedule", "--max-cycles", "1"])
    assert result.exit_code == 2
    assert "bad tuning cron expression" in result.output


def test_schedule_tunes_on_the_stores_ratings_before_the_cycle_that_uses_the_winner(tmp_path, monkeypatch):
    assert runner.invoke(app, ["data", "--movielens-dir", str(_twelve_films(tmp_path / "ml"))]).exit_code == 0
    for name, value in {
        "TUNE_GROWTH": "0.2",
        "TUNE_TRIALS": "2",
        "TUNE_BUDGET_SECONDS": "60",
        "ENGINE_METRICS_PORT": "0",
        "MODEL__NUM_THREADS": "1",
    }.items():
        monkeypatch.setenv(f"RECSYS_{name}", value)
    sigterm = signal.getsignal(signal.SIGTERM)
    try:
        result = runner.invoke(app, ["schedule", "--max-cycles", "1", "--interval", "3600"])
    finally:
        signal.signal(signal.SIGTERM, sigterm)

    assert result.exit_code == 0, result.output
    assert "re-tuning when the ratings grew by 20% (checked before each cycle): 2 trial(s)" in result.output
    tuned = json.loads((tmp_path / "var" / "tuned_model.json").read_text())
    assert tuned["data"] == {"ratings": 120, "watermark": 120}, "tuned on the rating store's 120 ratings"
    entries = [json.loads(line) for line in (tmp_path / "var" / "cycles.jsonl").read_text().splitlines()]
    assert [entry["status"] for entry in entries] == ["published"]
    assert "on 120 ratings of the store" in runner.invoke(app, ["status"]).output
