import pytest
from pydantic import ValidationError

from recommender_engine.cycle import ListConfig
from recommender_engine.settings import EngineSettings


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
