from recommender_engine.bootstrap import bootstrap
from recommender_engine.cycle import ListConfig
from recommender_engine.settings import EngineSettings


def test_every_list_setting_comes_from_the_engine_settings(tmp_path):
    assert set(ListConfig.model_fields) <= set(EngineSettings.model_fields)
    engine_app = bootstrap(EngineSettings(data_dir=tmp_path, must_watch_len=7, grace_seconds=5))
    try:
        assert engine_app.engine._lists == ListConfig(must_watch_len=7, grace_seconds=5)
    finally:
        engine_app.close()
