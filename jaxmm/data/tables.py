"""Chunked reading and writing of CSV, gzipped CSV and Parquet tables.

The storage is chosen by the file name: ``*.parquet`` / ``*.pq`` is Parquet,
``*.gz`` is gzipped CSV, anything else plain CSV. Reading yields raw chunks
(CSV cells as strings, Parquet columns as stored) with their 1-based data-row
numbers; the format readers parse and validate them. Memory stays bounded by
the chunk size.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from jaxmm.data.validation import Rows, data_error

CSV = "csv"
CSV_GZ = "csv.gz"
PARQUET = "parquet"
GZIP_SUFFIX = ".gz"
PARQUET_SUFFIXES = (".parquet", ".pq")
DEFAULT_CHUNK_ROWS = 100_000
_FIELD_COUNT_ERROR = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def storage_kind(path: str | Path) -> str:
    """``"parquet"``, ``"csv.gz"`` or ``"csv"`` from the file name."""
    suffix = Path(path).suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return PARQUET
    return CSV_GZ if suffix == GZIP_SUFFIX else CSV


@dataclass(frozen=True)
class RawChunk:
    """Unparsed rows of a file. ``named``: the columns carry names from the file (CSV header, Parquet)."""

    frame: pd.DataFrame
    rows: Rows
    named: bool


def iter_raw_chunks(path: str | Path, *, header: bool, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[RawChunk]:
    """Chunks of at most ``chunk_rows`` rows; at least one chunk (maybe empty) so the columns can be checked.

    ``header`` says whether a CSV file starts with a line of column names
    (Parquet always has names).
    """
    path = Path(path)
    if not path.is_file():
        raise data_error(path, "file not found")
    if storage_kind(path) == PARQUET:
        yield from _parquet_chunks(path, chunk_rows)
    else:
        yield from _csv_chunks(path, header, chunk_rows)


def _rows(path: Path, start: int, count: int) -> Rows:
    return Rows(path, np.arange(start + 1, start + 1 + count, dtype=np.int64))


def _csv_chunks(path: Path, header: bool, chunk_rows: int) -> Iterator[RawChunk]:
    compression = "gzip" if storage_kind(path) == CSV_GZ else None
    done = 0
    try:
        reader = pd.read_csv(path, header=0 if header else None, dtype=str, keep_default_na=False,
                             skip_blank_lines=False, chunksize=chunk_rows, compression=compression)
        with reader:
            for frame in reader:
                frame = frame.reset_index(drop=True)
                yield RawChunk(frame, _rows(path, done, len(frame)), named=header)
                done += len(frame)
    except pd.errors.EmptyDataError:
        raise data_error(path, "file is empty") from None
    except pd.errors.ParserError as err:
        match = _FIELD_COUNT_ERROR.search(str(err))
        if match is None:
            raise data_error(path, f"cannot parse the CSV: {err}") from None
        expected, line, seen = (int(group) for group in match.groups())
        row = line - 1 if header else line
        raise data_error(path, f"expected {expected} fields, found {seen}", row) from None
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise data_error(path, f"cannot read the file ({err})") from None


def _parquet_chunks(path: Path, chunk_rows: int) -> Iterator[RawChunk]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as err:
        raise data_error(path, f"not a readable Parquet file ({err})") from None
    done = 0
    for batch in parquet.iter_batches(batch_size=chunk_rows):
        frame = batch.to_pandas()
        yield RawChunk(frame, _rows(path, done, len(frame)), named=True)
        done += len(frame)
    if not done:
        empty = parquet.schema_arrow.empty_table().to_pandas()
        yield RawChunk(empty, _rows(path, 0, 0), named=True)


def peek_columns(path: str | Path) -> list[str]:
    """The column names of a Parquet file, or the fields of the first line of a CSV file."""
    if storage_kind(path) == PARQUET:
        return [str(name) for name in next(iter_raw_chunks(path, header=True, chunk_rows=1)).frame.columns]
    first = next(iter_raw_chunks(path, header=False, chunk_rows=1)).frame
    return [str(field) for field in first.iloc[0]] if len(first) else []


def write_table(path: str | Path, frames: Iterable[pd.DataFrame], *, header: bool, empty: pd.DataFrame) -> int:
    """Write ``frames`` one after another to ``path`` (storage from the name); returns the rows written.

    ``header`` writes the column names as the first CSV line. ``empty`` is a
    typed frame with no rows, written when ``frames`` is empty so that the
    file still carries its columns. Floats are written with the shortest text
    that reads back to the same value, NaN as an empty cell.
    """
    path = Path(path)
    frames = _at_least_one(frames, empty)
    if storage_kind(path) == PARQUET:
        return _write_parquet(path, frames)
    opener = gzip.open if storage_kind(path) == CSV_GZ else open
    written = 0
    with opener(path, "wt", newline="") as handle:
        for index, frame in enumerate(frames):
            frame.to_csv(handle, header=header and index == 0, index=False, lineterminator="\n")
            written += len(frame)
    return written


def _at_least_one(frames: Iterable[pd.DataFrame], empty: pd.DataFrame) -> Iterator[pd.DataFrame]:
    any_frame = False
    for frame in frames:
        any_frame = True
        yield frame
    if not any_frame:
        yield empty


def _write_parquet(path: Path, frames: Iterable[pd.DataFrame]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    written = 0
    try:
        for frame in frames:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table.cast(writer.schema))
            written += len(frame)
    finally:
        if writer is not None:
            writer.close()
    return written


def as_frames(frames: pd.DataFrame | Iterable[pd.DataFrame]) -> Iterable[pd.DataFrame]:
    """A single frame as a one-element list; an iterable of frames (e.g. a reader stream) unchanged."""
    return [frames] if isinstance(frames, pd.DataFrame) else frames


def typed(frame: pd.DataFrame, dtypes: dict) -> pd.DataFrame:
    """The columns of ``dtypes``, in that order and cast to those dtypes (ValueError when one is missing)."""
    missing = [name for name in dtypes if name not in frame.columns]
    if missing:
        raise ValueError(f"cannot write: the frame lacks column(s) {', '.join(map(repr, missing))}")
    return frame[list(dtypes)].astype(dtypes).reset_index(drop=True)


def empty_frame(dtypes: dict) -> pd.DataFrame:
    """A frame with no rows and the given column dtypes."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in dtypes.items()})
