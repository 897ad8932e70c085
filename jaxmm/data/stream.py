"""Streams of typed chunks from one file, and the summary of what a pass read.

Each reader returns a :class:`DataStream`. Iterating it reads the file in
chunks (bounded memory), yields the typed, validated rows of each chunk and
fills :attr:`DataStream.summary`: rows read, rows kept, counts per event
type or side, the time span, and every skipped row counted under its reason.
Nothing is dropped without being counted there.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Protocol

import numpy as np
import pandas as pd

from jaxmm.data.tables import DEFAULT_CHUNK_ROWS, RawChunk, iter_raw_chunks

TIME_ORIGIN_MIDNIGHT = "midnight"
TIME_ORIGIN_EPOCH = "epoch"


@dataclass
class ReadSummary:
    """What one pass over a file found.

    ``first_time``/``last_time`` are seconds after ``time_origin``
    (``"midnight"`` for LOBSTER, ``"epoch"`` for exchange feeds) over all rows,
    skipped ones included; ``counts`` counts all rows per event type or side;
    ``skipped`` counts the rows left out per reason.
    """

    path: str
    format: str
    time_origin: str | None = None
    rows: int = 0
    rows_kept: int = 0
    levels: int | None = None
    counts: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    seconds_per_unit: float = 1.0
    first_raw_time: float | int | None = None
    last_raw_time: float | int | None = None

    @property
    def first_time(self) -> float | None:
        """Time of the first row, in seconds."""
        return None if self.first_raw_time is None else float(self.first_raw_time * self.seconds_per_unit)

    @property
    def last_time(self) -> float | None:
        """Time of the last row, in seconds."""
        return None if self.last_raw_time is None else float(self.last_raw_time * self.seconds_per_unit)

    @property
    def duration_seconds(self) -> float | None:
        """Last minus first time, in seconds (exact for integer time units)."""
        if self.first_raw_time is None:
            return None
        return float((self.last_raw_time - self.first_raw_time) * self.seconds_per_unit)

    @property
    def rows_skipped(self) -> int:
        """Rows read but not yielded."""
        return sum(self.skipped.values())

    def count(self, values: np.ndarray, names: Mapping | None = None) -> None:
        """Add one to ``counts[label]`` per value; ``names`` maps a value (e.g. an event code) to its label."""
        found, numbers = np.unique(np.asarray(values), return_counts=True)
        for value, number in zip(found.tolist(), numbers.tolist()):
            label = str(value) if names is None else names[value]
            self.counts[label] += number

    def skip(self, reason: str, rows: int) -> None:
        """Record ``rows`` rows skipped for ``reason``."""
        if rows:
            self.skipped[reason] += int(rows)

    def note_times(self, times: np.ndarray, seconds_per_unit: float = 1.0) -> None:
        """Extend the time span by the (ordered) times of one chunk, given in units of ``seconds_per_unit``."""
        if len(times):
            self.seconds_per_unit = seconds_per_unit
            if self.first_raw_time is None:
                self.first_raw_time = times[0].item()
            self.last_raw_time = times[-1].item()

    def as_dict(self) -> dict:
        """Plain-data form (for JSON and the ``data inspect`` report)."""
        report = {"path": self.path, "format": self.format, "rows": self.rows, "rows_kept": self.rows_kept,
                  "rows_skipped": self.rows_skipped, "time_origin": self.time_origin,
                  "first_time": self.first_time, "last_time": self.last_time, "duration_seconds": self.duration_seconds,
                  "counts": dict(sorted(self.counts.items())), "skipped": dict(sorted(self.skipped.items()))}
        if self.levels is not None:
            report["levels"] = self.levels
        return report


class ChunkParser(Protocol):
    """Per-pass state of a format reader: parses raw chunks in order, then checks the end of the file."""

    def __call__(self, raw: RawChunk) -> pd.DataFrame: ...

    def finish(self) -> None: ...


class DataStream:
    """Typed chunks of one file, read lazily; iterate it (again) to read the file (again).

    ``summary`` describes the pass in progress or the last one completed.
    """

    def __init__(self, path: str | Path, fmt: str, make_parser: Callable[[ReadSummary], ChunkParser], *,
                 header: bool, time_origin: str | None, chunk_rows: int = DEFAULT_CHUNK_ROWS):
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
        self.path, self.format = Path(path), fmt
        self._make_parser, self._header, self._chunk_rows = make_parser, header, chunk_rows
        self.summary = ReadSummary(str(self.path), fmt, time_origin)

    def _frames(self) -> Iterator[pd.DataFrame]:
        summary = ReadSummary(str(self.path), self.format, self.summary.time_origin)
        self.summary = summary
        parser = self._make_parser(summary)
        for raw in iter_raw_chunks(self.path, header=self._header, chunk_rows=self._chunk_rows):
            frame = parser(raw)
            summary.rows += len(raw.rows)
            summary.rows_kept += len(frame)
            yield frame
        parser.finish()

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return (frame for frame in self._frames() if len(frame))

    def read(self) -> pd.DataFrame:
        """The whole file as one frame (for files that fit in memory)."""
        frames = list(self._frames())
        kept = [frame for frame in frames if len(frame)] or frames[:1]
        return pd.concat(kept, ignore_index=True)

    def scan(self) -> ReadSummary:
        """Read and validate the whole file, keeping only the summary."""
        for _ in self._frames():
            pass
        return self.summary
