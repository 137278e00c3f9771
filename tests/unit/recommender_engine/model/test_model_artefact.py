import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from recommender_engine.model import artefact
from recommender_engine.model.artefact import ArtefactError, checksum_of, load_artefact, save_artefact
from recommender_engine.model.dataset import Dataset, build_dataset
from recommender_engine.model.hybrid import HybridModel, ModelConfig
from recsys_common.columns import Columns

CONFIG = ModelConfig(no_components=4, epochs=2, num_threads=1, blend_weight=0.3, imdb_rating_features=True)


@pytest.fixture
def fitted(taste_ratings, films):
    dataset = build_dataset(taste_ratings, films)
    return HybridModel(CONFIG).fit(dataset), dataset


@pytest.fixture
def saved(fitted, tmp_path):
    model, dataset = fitted
    path = tmp_path / "models" / "model.npz"
    version = save_artefact(model, dataset, path, {"watermark": 17})
    return path, version


def _rewrite(path: Path, change: Callable[[dict[str, Any], dict[str, Any]], object]) -> None:
    """Rewrite the artefact's arrays through ``change(arrays, manifest)``: an intact file whose
    array checksum is left as is unless ``change`` updates it."""
    arrays = artefact.decode_arrays(path.read_bytes(), str(path))
    manifest = json.loads(arrays.pop(artefact.MANIFEST_KEY).tobytes())
    change(arrays, manifest)
    arrays[artefact.MANIFEST_KEY] = np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8)
    path.write_bytes(artefact.encode_arrays(arrays))


def test_round_trip_keeps_scores_maps_and_metadata(fitted, saved):
    model, dataset = fitted
    path, version = saved
    loaded, maps, meta = load_artefact(path)
    users = np.arange(dataset.n_users)
    assert np.array_equal(loaded.score_block(users), model.score_block(users))
    assert maps.user_ids.tolist() == dataset.user_ids.tolist()
    assert maps.film_ids.tolist() == dataset.film_ids.tolist()
    assert loaded.params.item_features.names == model.params.item_features.names
    assert loaded.config == CONFIG
    assert meta.version_id == version
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{12}", version)
    assert meta.metadata == {"watermark": 17}
    assert meta.format_version == artefact.FORMAT_VERSION
    assert not list(path.parent.glob("*.tmp"))


def test_plain_model_round_trips(films, taste_ratings, tmp_path):
    dataset = build_dataset(taste_ratings, films)
    model = HybridModel(ModelConfig(no_components=4, epochs=1, num_threads=1, blend_weight=0.0)).fit(dataset)
    save_artefact(model, dataset, tmp_path / "m.npz", {})
    loaded, _, _ = load_artefact(tmp_path / "m.npz")
    assert not loaded.params.blended
    assert np.array_equal(loaded.score_block(np.arange(3)), model.score_block(np.arange(3)))


def test_truncated_file_is_refused(saved):
    path, _ = saved
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ArtefactError, match="corrupt"):
        load_artefact(path)


@pytest.mark.parametrize("where", [0, 20, 100, 0.3, 0.6, -30, -1])
def test_a_flipped_bit_anywhere_is_refused(saved, where):
    path, _ = saved
    raw = bytearray(path.read_bytes())
    position = int(where * len(raw)) if isinstance(where, float) else where
    raw[position] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(ArtefactError, match="corrupt"):
        load_artefact(path)


def test_altered_array_fails_the_checksum(saved):
    path, _ = saved

    def change(arrays, manifest):
        arrays["user_biases"] = arrays["user_biases"] + 1

    _rewrite(path, change)
    with pytest.raises(ArtefactError, match="checksum"):
        load_artefact(path)


def test_round_trip_with_a_capped_ease(taste_ratings, films, tmp_path):
    dataset = build_dataset(taste_ratings, films)
    model = HybridModel(CONFIG.model_copy(update={"ease_max_films": 8})).fit(dataset)
    assert model.params.ease_films is not None and model.params.ease is not None
    path = tmp_path / "model.npz"
    save_artefact(model, dataset, path, {})
    loaded, _, meta = load_artefact(path)
    assert loaded.params.ease_films is not None
    assert np.array_equal(loaded.params.ease_films, model.params.ease_films)
    assert loaded.params.ease is not None and loaded.params.ease.shape == (8, 8)
    users = np.arange(dataset.n_users)
    assert np.array_equal(loaded.score_block(users), model.score_block(users))
    ratings = dataset.matrix[:3]
    assert np.array_equal(loaded.fold_in(ratings, seed=4), model.fold_in(ratings, seed=4))
    assert loaded.config.ease_max_films == 8 and meta.format_version == artefact.FORMAT_VERSION


def test_a_version_1_artefact_loads_with_ease_covering_every_film(fitted, saved):
    model, dataset = fitted
    path, _ = saved

    def change(arrays, manifest):
        assert "ease_films" not in arrays  # every film covered: nothing to say
        manifest["format_version"] = 1
        manifest["config"].pop("ease_max_films")

    _rewrite(path, change)
    loaded, _, meta = load_artefact(path)
    assert meta.format_version == 1 and loaded.params.ease_films is None
    users = np.arange(dataset.n_users)
    assert np.array_equal(loaded.score_block(users), model.score_block(users))


def test_other_format_version_is_refused(saved):
    path, _ = saved
    _rewrite(path, lambda arrays, manifest: manifest.update(format_version=99))
    with pytest.raises(ArtefactError, match="format version 99; this engine reads versions 1, 2"):
        load_artefact(path)


def test_mismatched_shapes_are_refused_even_with_a_valid_checksum(saved):
    path, _ = saved

    def change(arrays, manifest):
        arrays["feature_biases"] = arrays["feature_biases"][:-1]
        manifest["checksum"] = checksum_of(arrays)

    _rewrite(path, change)
    with pytest.raises(ArtefactError, match=r"incompatible.*feature_biases has shape"):
        load_artefact(path)


def test_unknown_config_field_is_refused(saved):
    path, _ = saved
    _rewrite(path, lambda arrays, manifest: manifest["config"].update(new_knob=1))
    with pytest.raises(ArtefactError, match="incompatible"):
        load_artefact(path)


def test_missing_or_foreign_files_are_refused(tmp_path):
    with pytest.raises(ArtefactError, match="does not exist"):
        load_artefact(tmp_path / "absent.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ArtefactError, match="corrupt or not an artefact"):
        load_artefact(tmp_path / "text.npz")
    np.savez(tmp_path / "plain.npz", x=np.arange(3))
    with pytest.raises(ArtefactError, match="lacks the"):
        load_artefact(tmp_path / "plain.npz")
    (tmp_path / "bare.npz").write_bytes(artefact.encode_arrays({"x": np.arange(3)}))
    with pytest.raises(ArtefactError, match="no manifest"):
        load_artefact(tmp_path / "bare.npz")


def test_save_refuses_bad_metadata_and_mismatched_dataset(fitted, films, tmp_path):
    model, dataset = fitted
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        save_artefact(model, dataset, tmp_path / "m.npz", {"when": object()})
    assert not list(tmp_path.iterdir())
    other = build_dataset(dataset_ratings_subset(dataset), films)
    with pytest.raises(ValueError, match="the model has"):
        save_artefact(model, other, tmp_path / "m.npz", {})


def dataset_ratings_subset(dataset: Dataset) -> pd.DataFrame:
    return pd.DataFrame(
        {Columns.User: ["x"], Columns.Item: [dataset.film_ids[0]], Columns.Rating: [5.0], Columns.Timestamp: [1]}
    )


def test_rating_weighted_history_round_trips(fitted, saved):
    model, _ = fitted
    path, _ = saved
    loaded, _, _ = load_artefact(path)
    assert loaded.params.history is not None and model.params.history is not None
    assert np.array_equal(loaded.params.history.toarray(), model.params.history.toarray())
    assert len(np.unique(loaded.params.history.data)) > 1


def test_history_without_values_loads_as_binary(saved):
    path, _ = saved

    def drop_values(arrays: dict[str, Any], manifest: dict[str, Any]) -> None:
        del arrays["history_data"]
        manifest["checksum"] = checksum_of(arrays)

    _rewrite(path, drop_values)
    loaded, _, _ = load_artefact(path)
    assert loaded.params.history is not None
    assert np.all(loaded.params.history.data == 1.0)
