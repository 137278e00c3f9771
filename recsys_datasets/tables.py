"""Strict CSV reading shared by the loaders: clear errors naming the file and the line.

Line numbers count the header as line 1, so data row ``i`` (0-based) is line ``i + 2`` (exact
unless a quoted field spans several lines).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from recsys_datasets.errors import DataFormatError

HEADER_LINES = 1


def line_of(row_position: int) -> int:
    """Line number in the file of the 0-based data row ``row_position``."""
    return row_position + HEADER_LINES + 1


def show(value: object) -> str:
    """A value of a data frame as a message shows it: strings quoted, numbers plain (no numpy repr)."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return repr(value)


def first_true(mask: pd.Series[bool] | np.ndarray) -> int:
    """0-based position of the first True in ``mask`` (the caller knows there is one)."""
    return int(np.flatnonzero(np.asarray(mask, dtype=bool))[0])


def read_csv_checked(
    path: Path,
    required: Sequence[str],
    text_columns: Sequence[str] = (),
    *,
    what: str = "rows",
    allow_empty: bool = False,
    na_columns: Sequence[str] = (),
) -> pd.DataFrame:
    """Read ``path`` as UTF-8 CSV and check that the ``required`` columns are present.

    ``text_columns`` are read as strings with no NA conversion (an empty field stays ""), other
    columns are left to pandas' inference (convert them with :func:`to_number`). Empty fields of
    ``na_columns`` become NaN. Raises DataFormatError when the file is missing, empty, not CSV,
    lacks a column, or (unless ``allow_empty``) has no data rows.
    """
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    dtypes: Mapping[str, type[str]] = dict.fromkeys(text_columns, str)
    try:
        frame = pd.read_csv(
            path,
            dtype=dtypes,
            keep_default_na=False,
            na_values={column: [""] for column in na_columns},
            encoding="utf-8-sig",  # a byte-order mark (spreadsheet exports) is not part of the header
        )
    except pd.errors.EmptyDataError as exc:
        raise DataFormatError(path, "file is empty (expected a header line and data rows)") from exc
    except pd.errors.ParserError as exc:
        raise DataFormatError(path, f"not a valid CSV file: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, f"not UTF-8 text (byte {exc.start})") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataFormatError(
            path, f"missing column(s) {', '.join(missing)}; found {', '.join(map(str, frame.columns)) or 'none'}", 1
        )
    if frame.empty and not allow_empty:
        raise DataFormatError(path, f"has a header but no {what}")
    return frame


def to_number(path: Path, frame: pd.DataFrame, column: str, *, allow_missing: bool = False) -> pd.Series[float]:
    """Column ``column`` as float64; raise DataFormatError at the first non-numeric value.

    Empty fields are NaN when ``allow_missing``, an error otherwise.
    """
    raw = frame[column]
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        values = raw.astype("float64")
        bad = values.notna() & ~np.isfinite(values)
    else:
        text = raw.astype(str).str.strip()
        present = raw.notna() & (text != "")
        values = pd.to_numeric(text.where(present), errors="coerce").astype("float64")
        bad = present & ~np.isfinite(values.fillna(np.inf))
    if bad.any():
        pos = first_true(bad)
        raise DataFormatError(path, f"{column} {show(raw.iloc[pos])} is not a finite number", line_of(pos))
    if not allow_missing and values.isna().any():
        pos = first_true(values.isna())
        raise DataFormatError(path, f"{column} is empty", line_of(pos))
    return values


def to_text(path: Path, frame: pd.DataFrame, column: str, *, allow_empty: bool = False) -> pd.Series[str]:
    """Column ``column`` as stripped strings; raise DataFormatError at the first empty one."""
    values = frame[column].astype(str).str.strip()
    if not allow_empty:
        empty = values == ""
        if empty.any():
            raise DataFormatError(path, f"{column} is empty", line_of(first_true(empty)))
    return values


def distinct_text(values: pd.Series[Any]) -> tuple[npt.NDArray[np.intp], pd.Series[str]]:
    """``(codes, distinct)``: each row's stripped text is ``distinct[codes[row]]``.

    String work then runs once per distinct value instead of once per row (a million reviews
    hold a few thousand critics and a few hundred score spellings).
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    stripped = pd.Series(uniques, dtype=object).astype(str).str.strip()
    merged, distinct = pd.factorize(stripped)
    return merged[codes], pd.Series(distinct, dtype=str)


def keep_latest(
    user_codes: npt.NDArray[np.integer], item_codes: npt.NDArray[np.integer], stamps: npt.NDArray[np.integer]
) -> npt.NDArray[np.intp]:
    """Sorted row positions that keep, per (user, item) pair, the row with the latest stamp (the
    last one in file order among equal stamps)."""
    n_items = int(item_codes.max()) + 1 if len(item_codes) else 1
    pair = user_codes.astype(np.int64) * n_items + item_codes.astype(np.int64)
    by_time = np.argsort(stamps, kind="stable")
    last = ~pd.Series(pair[by_time]).duplicated(keep="last").to_numpy()
    return np.sort(by_time[last])
