"""Shared CSV helpers: numbers with line numbers, distinct-value codes, latest rating per pair."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_datasets.errors import DataFormatError
from recsys_datasets.tables import distinct_text, keep_latest, read_csv_checked, show, to_number


def test_to_number_names_the_first_bad_line(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("a\n1\n2.5\nten\ninf\n", encoding="utf-8")
    frame = read_csv_checked(tmp_path / "x.csv", ["a"])

    with pytest.raises(DataFormatError, match=r"x\.csv, line 4: a 'ten' is not a finite number"):
        to_number(tmp_path / "x.csv", frame, "a")


def test_to_number_refuses_infinity(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("a\n1\ninf\n", encoding="utf-8")
    frame = read_csv_checked(tmp_path / "x.csv", ["a"])

    with pytest.raises(DataFormatError, match=r"line 3: a .*inf.* is not a finite number"):
        to_number(tmp_path / "x.csv", frame, "a")


def test_to_number_allows_missing_only_when_asked(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("a,b\n1,x\n,y\n", encoding="utf-8")
    frame = read_csv_checked(tmp_path / "x.csv", ["a"], na_columns=["a"])

    assert to_number(tmp_path / "x.csv", frame, "a", allow_missing=True).isna().tolist() == [False, True]
    with pytest.raises(DataFormatError, match="line 3: a is empty"):
        to_number(tmp_path / "x.csv", frame, "a")


def test_not_utf8_is_named(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_bytes(b"a\n\xff\xfe\n")

    with pytest.raises(DataFormatError, match="not UTF-8"):
        read_csv_checked(tmp_path / "x.csv", ["a"])


def test_distinct_text_strips_and_merges() -> None:
    codes, distinct = distinct_text(pd.Series(["a", " a", "b", "a ", ""]))

    assert distinct.tolist() == ["a", "b", ""]
    assert codes.tolist() == [0, 0, 1, 0, 2]


def test_keep_latest_keeps_the_newest_rating_of_each_pair_in_file_order() -> None:
    users = np.array([0, 0, 1, 0, 1])
    items = np.array([5, 5, 5, 6, 5])
    stamps = np.array([20, 10, 1, 3, 1])

    assert keep_latest(users, items, stamps).tolist() == [0, 3, 4]  # row 4 ties row 2 and comes later


@pytest.mark.parametrize(
    ("value", "expected"),
    [("x", "'x'"), (np.float64(5.5), "5.5"), (np.int64(7), "7"), (3.0, "3")],
)
def test_show(value: object, expected: str) -> None:
    assert show(value) == expected


def test_byte_order_mark_is_not_part_of_the_header(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_bytes("\ufeffa,b\n1,2\n".encode())

    assert list(read_csv_checked(tmp_path / "x.csv", ["a", "b"]).columns) == ["a", "b"]
