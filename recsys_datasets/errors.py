"""Errors of the seed data step."""

from __future__ import annotations

from pathlib import Path


class DataUnavailable(RuntimeError):
    """A seed source could not be fetched or its file does not have the expected checksum."""


class DataFormatError(ValueError):
    """An input file does not have the expected layout; the message names the file (and line)."""

    def __init__(self, path: Path | str, problem: str, line: int | None = None) -> None:
        where = f"{path}, line {line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.line = line
        self.problem = problem
