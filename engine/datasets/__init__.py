"""Readers for public evaluation data sets (adapters: they do file I/O, the domain does not)."""

from pathlib import Path


class DatasetFormatError(ValueError):
    """A data file does not have the expected layout; the message names file and line."""

    def __init__(self, path: str | Path, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path = Path(path)
        self.line = line
