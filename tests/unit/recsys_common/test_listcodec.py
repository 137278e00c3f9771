import json
from dataclasses import replace

import numpy as np
import pytest

from recsys_common.listcodec import ListLayout, decode, decode_list, encode_block
from recsys_common.ports.recstore import VersionMeta
from recsys_common.versions import meta_from_json, meta_to_json

FILMS = [f"film-{i}" for i in range(10)]


def test_round_trip_with_padding_and_genres():
    layout = ListLayout.for_catalogue(len(FILMS), must_watch_len=4, genre_len=2, genres=["Comedy", "Drama"])
    must_watch = np.array([[3, 1, -1, -1], [0, 2, 4, 5]])
    by_genre = np.array([[[1, -1], [-1, -1]], [[2, 4], [5, 0]]])
    first, second = encode_block(must_watch, by_genre, layout)
    assert len(first) == layout.record_bytes == (4 + 2 * 2) * 2
    lists = decode(first, layout, FILMS)
    assert lists.must_watch == ("film-3", "film-1")
    assert lists.by_genre == {"Comedy": ("film-1",)}
    assert decode(second, layout, FILMS).by_genre == {"Comedy": ("film-2", "film-4"), "Drama": ("film-5", "film-0")}


def test_large_catalogue_uses_four_byte_indices():
    layout = ListLayout.for_catalogue(70_000, 2, 1, [])
    assert layout.index_bytes == 4
    (record,) = encode_block(np.array([[69_999, 5]]), None, layout)
    films = [str(i) for i in range(70_000)]
    assert decode(record, layout, films).must_watch == ("69999", "5")


def test_record_that_does_not_fit_the_layout_is_refused():
    layout = ListLayout.for_catalogue(len(FILMS), 4, 2, ["Comedy"])
    with pytest.raises(ValueError, match="layout expects"):
        decode(b"\x00\x01\x02", layout, FILMS)


def test_genre_count_mismatch_is_refused():
    layout = ListLayout.for_catalogue(len(FILMS), 2, 2, ["Comedy"])
    with pytest.raises(ValueError, match="genres"):
        encode_block(np.array([[1, 2]]), np.zeros((1, 2, 2), dtype=int), layout)


def test_budget_of_realistic_record():
    layout = ListLayout.for_catalogue(1682, 100, 20, [f"g{i}" for i in range(18)])
    assert layout.record_bytes <= 1024


@pytest.mark.parametrize("index_films", [len(FILMS), 70_000])
def test_decode_list_agrees_with_decode_list_by_list(index_films):
    layout = ListLayout.for_catalogue(index_films, must_watch_len=4, genre_len=3, genres=["Comedy", "Drama", "Noir"])
    films = [f"film-{i}" for i in range(max(index_films, len(FILMS)))]
    must_watch = np.array([[3, -1, 1, 7], [0, 2, 4, 5]])
    by_genre = np.array([[[1, -1, 2], [-1, -1, -1], [9, 8, 7]], [[2, 4, -1], [5, 0, 6], [-1, -1, 3]]])
    for record in encode_block(must_watch, by_genre, layout):
        whole = decode(record, layout, films)
        assert decode_list(record, layout, films, None) == whole.must_watch
        for genre in layout.genres:
            assert decode_list(record, layout, films, genre) == whole.by_genre.get(genre, ())
        assert decode_list(record, layout, films, None, limit=2) == whole.must_watch[:2]
        assert decode_list(record, layout, films, None, limit=0) == ()
        assert decode_list(record, layout, films, "Western") == ()


def test_decode_list_refuses_records_that_do_not_fit():
    layout = ListLayout.for_catalogue(len(FILMS), 2, 1, ["Comedy"])
    with pytest.raises(ValueError, match="layout expects"):
        decode_list(b"\x00", layout, FILMS, None)
    (record,) = encode_block(np.array([[1, 9]]), np.array([[[2]]]), layout)
    with pytest.raises(ValueError, match="film index 9"):
        decode_list(record, layout, FILMS[:5], None)


def test_reasons_round_trip_after_the_genre_lists():
    layout = ListLayout.for_catalogue(len(FILMS), must_watch_len=3, genre_len=2, genres=["Comedy"], reasons=True)
    must_watch = np.array([[3, 1, -1], [0, 2, 4]])
    by_genre = np.array([[[1, -1]], [[2, 4]]])
    reasons = np.array([[7, -1, 9], [8, 8, 6]])  # 9 stands by no film: dropped
    first, second = encode_block(must_watch, by_genre, layout, reasons)
    assert len(first) == layout.record_bytes == (3 + 2 + 3) * 2
    assert decode(first, layout, FILMS).reasons == {"film-3": "film-7"}
    lists = decode(second, layout, FILMS)
    assert lists.reasons == {"film-0": "film-8", "film-2": "film-8", "film-4": "film-6"}
    assert lists.must_watch == ("film-0", "film-2", "film-4") and lists.by_genre == {"Comedy": ("film-2", "film-4")}
    assert decode_list(second, layout, FILMS, "Comedy") == ("film-2", "film-4")
    (without,) = encode_block(must_watch[:1], by_genre[:1], layout)
    assert decode(without, layout, FILMS).reasons == {}


def test_a_layout_without_reasons_ignores_them_and_reads_as_before():
    layout = ListLayout.for_catalogue(len(FILMS), must_watch_len=3, genre_len=2, genres=["Comedy"])
    assert not layout.reasons and layout.record_len == 5
    (record,) = encode_block(np.array([[3, 1, -1]]), None, layout, np.array([[7, 7, 7]]))
    assert decode(record, layout, FILMS).reasons == {}
    with pytest.raises(ValueError, match="reasons have 2 rows"):
        encode_block(np.array([[3, 1, -1]]), None, replace(layout, reasons=True), np.array([[7], [7]]))


def test_versions_published_before_reasons_keep_their_layout():
    meta = VersionMeta("v1", "m1", "2026-11-23T00:00:00Z", ListLayout.for_catalogue(10, 3, 2, ["Comedy"]))
    old = json.loads(meta_to_json(meta))
    del old["layout"]["reasons"]  # metadata written before the field existed
    assert meta_from_json(json.dumps(old)) == meta
    with_reasons = replace(meta, layout=replace(meta.layout, reasons=True))
    assert meta_from_json(meta_to_json(with_reasons)).layout.reasons
