"""One versioned artefact per trained model: parameters, id maps, feature maps, metadata.

File layout: the line ``RECSYS-ARTEFACT`` , the line ``sha256:<hex digest of the body>``, then the
body: an ``.npz`` archive (a zip of ``.npy`` arrays, read with ``allow_pickle=False``, so loading
never unpickles anything) holding every array plus a JSON manifest stored as bytes (format name and
version, version id, creation time, model config, the caller's metadata, and a SHA-256 over every
array's name, dtype, shape and bytes, whose head is the version id). ``load_artefact`` refuses a
file that is truncated or altered anywhere (the body digest), of another format version, or whose
arrays do not fit together, with an ``ArtefactError`` saying which.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pydantic
import scipy.sparse as sp

from recommender_engine.model.dataset import Dataset, StrArray
from recommender_engine.model.features import FEATURE_DTYPE, ItemFeatures
from recommender_engine.model.hybrid import HybridModel, HybridParams, ModelConfig

FORMAT_NAME = "recsys-hybrid"
#: Version 2 added ``ease_films`` (the films EASE covers); version 1 artefacts are read as EASE
#: covering every film, which is what they hold.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, FORMAT_VERSION)
MANIFEST_KEY = "manifest"
MAGIC = b"RECSYS-ARTEFACT\n"
DIGEST_PREFIX = b"sha256:"
_DIGEST_LINE_LEN = len(DIGEST_PREFIX) + hashlib.sha256().digest_size * 2 + 1
#: Characters of the checksum used in the version id.
VERSION_HASH_CHARS = 12
_HISTORY_DTYPE = np.float32


class ArtefactError(ValueError):
    """The artefact cannot be used: unreadable, corrupt or incompatible."""


@dataclass(frozen=True)
class IdMaps:
    """Row and column ids of the model: ``user_ids[i]`` scores row ``i``, ``film_ids[j]`` column ``j``."""

    user_ids: StrArray
    film_ids: StrArray

    def user_index(self) -> dict[str, int]:
        return {str(user): row for row, user in enumerate(self.user_ids)}


@dataclass(frozen=True)
class ArtefactMeta:
    version_id: str
    created_at: str  # ISO 8601 UTC
    format_version: int
    checksum: str
    config: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)  # the caller's, as saved


def save_artefact(model: HybridModel, dataset: Dataset, path: str | Path, metadata: dict[str, Any]) -> str:
    """Write the fitted ``model`` with ``dataset``'s id maps to the file ``path``; return its version id.

    The file is written next to ``path`` and renamed into place, so a reader never sees half of it.
    ``metadata`` must be JSON-serialisable.
    """
    params = model.params
    if (params.n_users, params.n_films) != (dataset.n_users, dataset.n_films):
        raise ValueError(
            f"the model has {params.n_users} users x {params.n_films} films, "
            f"the dataset {dataset.n_users} x {dataset.n_films}"
        )
    arrays = _arrays(params, dataset.user_ids, dataset.film_ids)
    checksum = checksum_of(arrays)
    created = time.gmtime()
    version_id = f"{time.strftime('%Y%m%dT%H%M%SZ', created)}-{checksum[:VERSION_HASH_CHARS]}"
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "version_id": version_id,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", created),
        "checksum": checksum,
        "config": model.config.model_dump(mode="json"),
        "blended": params.blended,
        "features_shape": list(params.item_features.matrix.shape),
        "metadata": metadata,
    }
    try:
        manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
    except TypeError as exc:
        raise ValueError(f"artefact metadata is not JSON-serialisable: {exc}") from exc
    arrays[MANIFEST_KEY] = np.frombuffer(manifest_bytes, dtype=np.uint8)
    content = encode_arrays(arrays)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return version_id


def load_artefact(path: str | Path) -> tuple[HybridModel, IdMaps, ArtefactMeta]:
    """Read an artefact written by ``save_artefact``; raise ArtefactError when it cannot be used."""
    source = Path(path)
    try:
        content = source.read_bytes()
    except FileNotFoundError as exc:
        raise ArtefactError(f"artefact {source} does not exist") from exc
    except OSError as exc:
        raise ArtefactError(f"artefact {source} cannot be read: {exc}") from exc
    arrays = decode_arrays(content, str(source))
    manifest = _manifest(arrays.pop(MANIFEST_KEY, None), source)
    if manifest.get("format") != FORMAT_NAME:
        raise ArtefactError(f"artefact {source} has format {manifest.get('format')!r}, expected {FORMAT_NAME!r}")
    if manifest.get("format_version") not in READABLE_VERSIONS:
        raise ArtefactError(
            f"artefact {source} has format version {manifest.get('format_version')!r}; "
            f"this engine reads versions {', '.join(map(str, READABLE_VERSIONS))}"
        )
    if checksum_of(arrays) != manifest.get("checksum"):
        raise ArtefactError(f"artefact {source} fails its array checksum: its arrays were altered")
    try:
        config = ModelConfig.model_validate(manifest["config"])
        params, id_maps = _params(arrays, manifest)
        model = HybridModel(config)
        model.set_params(params)
        meta = ArtefactMeta(
            version_id=str(manifest["version_id"]),
            created_at=str(manifest["created_at"]),
            format_version=int(manifest["format_version"]),
            checksum=str(manifest["checksum"]),
            config=dict(manifest["config"]),
            metadata=dict(manifest.get("metadata") or {}),
        )
    except (KeyError, TypeError, ValueError, pydantic.ValidationError) as exc:
        raise ArtefactError(f"artefact {source} is incompatible with this engine: {exc}") from exc
    return model, id_maps, meta


def _arrays(params: HybridParams, user_ids: StrArray, film_ids: StrArray) -> dict[str, npt.NDArray[Any]]:
    features = sp.csr_matrix(params.item_features.matrix)
    arrays: dict[str, npt.NDArray[Any]] = {
        "user_ids": np.asarray(user_ids, dtype=np.str_),
        "film_ids": np.asarray(film_ids, dtype=np.str_),
        "user_embeddings": params.user_embeddings,
        "user_biases": params.user_biases,
        "feature_embeddings": params.feature_embeddings,
        "feature_biases": params.feature_biases,
        "feature_names": np.asarray(params.item_features.names, dtype=np.str_),
        "features_data": features.data.astype(FEATURE_DTYPE),
        "features_indices": features.indices.astype(np.int64),
        "features_indptr": features.indptr.astype(np.int64),
    }
    if params.ease is not None and params.history is not None:
        history = sp.csr_matrix(params.history)
        arrays["ease"] = params.ease
        arrays["history_data"] = history.data.astype(_HISTORY_DTYPE)
        arrays["history_indices"] = history.indices.astype(np.int64)
        arrays["history_indptr"] = history.indptr.astype(np.int64)
        if params.ease_films is not None:
            arrays["ease_films"] = params.ease_films.astype(np.int64)
    return {name: np.ascontiguousarray(array) for name, array in arrays.items()}


def encode_arrays(arrays: dict[str, npt.NDArray[Any]]) -> bytes:
    """The artefact file's bytes for ``arrays``: magic line, body digest line, npz body."""
    body = io.BytesIO()
    np.savez(body, allow_pickle=False, **arrays)
    raw = body.getvalue()
    return MAGIC + DIGEST_PREFIX + hashlib.sha256(raw).hexdigest().encode() + b"\n" + raw


def decode_arrays(content: bytes, source: str) -> dict[str, npt.NDArray[Any]]:
    """The arrays of an artefact file's bytes; ArtefactError when it is not an intact artefact."""
    if not content.startswith(MAGIC):
        raise ArtefactError(f"artefact {source} is corrupt or not an artefact: it lacks the {MAGIC!r} header")
    digest_line = content[len(MAGIC) : len(MAGIC) + _DIGEST_LINE_LEN]
    body = content[len(MAGIC) + _DIGEST_LINE_LEN :]
    expected = DIGEST_PREFIX + hashlib.sha256(body).hexdigest().encode() + b"\n"
    if digest_line != expected:
        raise ArtefactError(f"artefact {source} is corrupt: its content does not match its checksum")
    try:
        with np.load(io.BytesIO(body), allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, RuntimeError, NotImplementedError) as exc:
        raise ArtefactError(f"artefact {source} is corrupt or not an artefact: {exc}") from exc


def checksum_of(arrays: dict[str, npt.NDArray[Any]]) -> str:
    """SHA-256 over every array's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _manifest(raw: npt.NDArray[Any] | None, source: Path) -> dict[str, Any]:
    if raw is None:
        raise ArtefactError(f"artefact {source} has no manifest")
    try:
        manifest = json.loads(raw.astype(np.uint8).tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtefactError(f"artefact {source} has an unreadable manifest: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ArtefactError(f"artefact {source} has a manifest that is not an object")
    return manifest


def _params(arrays: dict[str, npt.NDArray[Any]], manifest: dict[str, Any]) -> tuple[HybridParams, IdMaps]:
    user_ids, film_ids = arrays["user_ids"], arrays["film_ids"]
    n_films, n_features = (int(n) for n in manifest["features_shape"])
    if n_films != len(film_ids):
        raise ValueError(f"{len(film_ids)} film ids for {n_films} feature rows")
    features = sp.csr_matrix(
        (arrays["features_data"], arrays["features_indices"], arrays["features_indptr"]), shape=(n_films, n_features)
    )
    ease = history = ease_films = None
    if manifest.get("blended"):
        ease = arrays["ease"]
        ease_films = arrays.get("ease_films")  # absent: EASE covers every film (all of version 1)
        indices, indptr = arrays["history_indices"], arrays["history_indptr"]
        # Artefacts written before histories were rating-weighted hold no values: they were binary.
        data = arrays.get("history_data", np.ones(len(indices), dtype=_HISTORY_DTYPE))
        if len(data) != len(indices):
            raise ValueError(f"history has {len(data)} values for {len(indices)} entries")
        history = sp.csr_matrix((data, indices, indptr), shape=(len(user_ids), n_films))
    params = HybridParams(
        user_embeddings=arrays["user_embeddings"],
        user_biases=arrays["user_biases"],
        feature_embeddings=arrays["feature_embeddings"],
        feature_biases=arrays["feature_biases"],
        item_features=ItemFeatures(matrix=features, names=tuple(str(name) for name in arrays["feature_names"])),
        ease=ease,
        history=history,
        ease_films=None if ease_films is None else np.asarray(ease_films, dtype=np.int64),
    )
    if params.n_users != len(user_ids):
        raise ValueError(f"{len(user_ids)} user ids for {params.n_users} user embeddings")
    return params, IdMaps(user_ids=user_ids, film_ids=film_ids)
