import pickle
from pathlib import Path

import pytest
from pydantic import ValidationError

from recommender_engine.bootstrap import dask_publisher, model_config, rec_store
from recommender_engine.cycle import ListConfig
from recommender_engine.model.hybrid import ModelConfig
from recommender_engine.model.tuned import TunedFileError, write_tuned
from recommender_engine.settings import EngineSettings
from recsys_common.adapters.sqlite_recstore import SqliteRecStore


def test_list_settings_are_nested_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RECSYS_LISTS__MUST_WATCH_LEN", "7")
    monkeypatch.setenv("RECSYS_LISTS__GRACE_SECONDS", "5")

    assert EngineSettings().lists == ListConfig(must_watch_len=7, grace_seconds=5)


@pytest.mark.parametrize(("name", "value"), [("MUST_WATCH_LEN", "0"), ("GENRE_LEN", "201"), ("KEEP_VERSIONS", "0")])
def test_list_settings_out_of_bounds_are_refused(monkeypatch, tmp_path, name, value):
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(f"RECSYS_LISTS__{name}", value)

    with pytest.raises(ValidationError, match=name.lower()):
        EngineSettings()


def test_the_old_flat_list_variables_are_refused(tmp_path):
    with pytest.raises(ValidationError, match="must_watch_len"):
        EngineSettings(data_dir=tmp_path, must_watch_len=7)  # type: ignore[call-arg]


def test_a_variable_of_the_old_flat_names_is_refused_with_its_new_name(monkeypatch, tmp_path):
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RECSYS_MUST_WATCH_LEN", "7")

    with pytest.raises(ValidationError, match="RECSYS_MUST_WATCH_LEN -> RECSYS_LISTS__MUST_WATCH_LEN"):
        EngineSettings()


def _tuned(tmp_path: Path, model: ModelConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path))
    settings = EngineSettings()
    write_tuned(settings.tuned_model_file, model, {"base_ndcg": 0.1, "best_ndcg": 0.2}, "2026-01-01T00:00:00+00:00")


def test_the_tuned_file_wins_over_the_defaults_and_a_variable_over_the_file(monkeypatch, tmp_path):
    _tuned(tmp_path, ModelConfig(epochs=7, no_components=16), monkeypatch)
    monkeypatch.setenv("RECSYS_MODEL__EPOCHS", "9")

    config = model_config(EngineSettings())

    assert (config.epochs, config.no_components) == (9, 16), "variable over file, file over default"
    assert config.learning_rate == ModelConfig().learning_rate, "a field nobody set keeps its default"


def test_without_a_tuned_file_the_settings_model_is_the_engines(monkeypatch, tmp_path):
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RECSYS_MODEL__EPOCHS", "9")

    assert model_config(EngineSettings()) == ModelConfig(epochs=9)


def test_a_tuned_file_with_an_unknown_field_is_refused(monkeypatch, tmp_path):
    _tuned(tmp_path, ModelConfig(), monkeypatch)
    EngineSettings().tuned_model_file.write_text('{"model": {"no_such_field": 1}}')

    with pytest.raises(TunedFileError, match="no_such_field"):
        model_config(EngineSettings())


def test_dask_publishing_is_off_unless_a_scheduler_is_set(tmp_path):
    assert dask_publisher(EngineSettings(data_dir=tmp_path)) is None


def test_dask_workers_rebuild_the_engine_store_from_a_pickle(tmp_path):
    """What a worker receives: the store opener, pickled, opening the store the settings name."""
    settings = EngineSettings(data_dir=tmp_path, dask_scheduler="tcp://127.0.0.1:8786")
    publisher = dask_publisher(settings)
    assert publisher is not None and publisher.address == "tcp://127.0.0.1:8786"

    store = pickle.loads(pickle.dumps(publisher.open_store))()
    try:
        assert isinstance(store, SqliteRecStore)
        assert repr(store) == repr(rec_store(settings))
    finally:
        store.close()
