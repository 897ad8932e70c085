"""Checks shared by the market-data readers: columns, values, time order, book sanity.

Every problem raises :class:`jaxmm.errors.DataError` with one line,
``<file>: row <n>: <problem>``, where ``n`` is the 1-based data row of the file
(a header line is not counted; the first data row is row 1). Problems with the
file as a whole (missing columns, empty file) name the file and the header.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from jaxmm.errors import DataError

BOOLEAN_TEXT = {"true": True, "false": False, "1": True, "0": False}
# Magnitude beyond which a float no longer converts to a 64-bit integer.
INT64_LIMIT = 2.0 ** 63
# Significant digits used when a value is quoted in an error message.
MESSAGE_DIGITS = 15
# Significant digits of a time gap in messages (float noise hidden: 0.48 s, not 0.480000000003 s).
GAP_DIGITS = 6


def data_error(path: str | Path, problem: str, row: int | None = None) -> DataError:
    """A :class:`DataError` reading ``<file>: row <row>: <problem>`` (no row: ``<file>: <problem>``)."""
    where = f"{path}" if row is None else f"{path}: row {row}"
    return DataError(f"{where}: {problem}")


def show(value) -> str:
    """A number as it reads best in a message: ``5850000``, ``100.5``, ``0.001``."""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.{MESSAGE_DIGITS}g}"
    return str(value.item() if isinstance(value, np.generic) else value)


@dataclass(frozen=True)
class Rows:
    """The file and the 1-based data-row numbers of the rows of one chunk."""

    path: Path
    numbers: np.ndarray

    def __len__(self) -> int:
        return len(self.numbers)

    def subset(self, keep: np.ndarray) -> Rows:
        """The rows selected by a boolean mask or an index array."""
        return Rows(self.path, self.numbers[keep])

    def error(self, index: int, problem: str) -> DataError:
        """The error for the row at position ``index`` of this chunk."""
        return data_error(self.path, problem, int(self.numbers[index]))


def fail_first(rows: Rows, bad: np.ndarray, describe: Callable[[int], str]) -> None:
    """Raise for the first row where ``bad`` holds; ``describe(i)`` words the problem of row ``i``."""
    if np.any(bad):
        index = int(np.argmax(bad))
        raise rows.error(index, describe(index))


def check_columns(path: str | Path, found: Iterable, expected: Sequence[str]) -> None:
    """The header holds exactly ``expected`` (in any order): name what is missing or unexpected."""
    found = [str(name) for name in found]
    missing = [name for name in expected if name not in found]
    unexpected = [name for name in found if name not in expected]
    problems = []
    if missing:
        problems.append("missing column(s) " + ", ".join(map(repr, missing)))
    if unexpected:
        problems.append("unexpected column(s) " + ", ".join(map(repr, unexpected)))
    if problems:
        raise data_error(path, "header: " + "; ".join(problems))


def _value_problem(raw, column: str, kind: str) -> str:
    """Why the raw value ``raw`` of ``column`` is not a valid ``kind``."""
    where = f"in column {column!r}"
    if raw is None or raw is pd.NA or (isinstance(raw, str) and not raw.strip()):
        return f"missing value {where}"
    if isinstance(raw, (float, np.floating)) and math.isnan(raw):
        return f"missing or NaN value {where}"
    text = str(raw).strip()
    try:
        number = float(text)
    except (TypeError, ValueError):
        return f"unparsable {kind} {text!r} {where}"
    if math.isnan(number):
        return f"NaN value {where}"
    if math.isinf(number):
        return f"infinite value {text!r} {where}"
    return f"unparsable {kind} {text!r} {where}"


def _missing(series: pd.Series) -> np.ndarray:
    raw = series.to_numpy(dtype=object)
    return pd.isna(raw) | (raw == "")


def parse_float(frame: pd.DataFrame, column: str, rows: Rows, *, allow_missing: bool = False) -> np.ndarray:
    """Column ``column`` as float64; missing, unparsable, NaN or infinite values are errors.

    With ``allow_missing`` an empty cell becomes NaN instead of an error.
    """
    series = frame[column]
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if allow_missing:
        bad &= ~_missing(series)
    fail_first(rows, bad, lambda i: _value_problem(series.iloc[i], column, "number"))
    return values


def parse_int(frame: pd.DataFrame, column: str, rows: Rows) -> np.ndarray:
    """Column ``column`` as int64; missing, unparsable or non-integral values are errors."""
    series = frame[column]
    numeric = pd.to_numeric(series, errors="coerce")
    if pd.api.types.is_integer_dtype(numeric.dtype) and not numeric.isna().any():
        return numeric.to_numpy(dtype=np.int64)
    values = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (np.round(values) != values) | (np.abs(values) >= INT64_LIMIT)
    fail_first(rows, bad, lambda i: _value_problem(series.iloc[i], column, "integer"))
    return values.astype(np.int64)


def parse_bool(frame: pd.DataFrame, column: str, rows: Rows) -> np.ndarray:
    """Column ``column`` as bool; accepts ``true``/``false``/``1``/``0`` in any case."""
    series = frame[column]
    if pd.api.types.is_bool_dtype(series.dtype) and not series.isna().any():
        return series.to_numpy(dtype=bool)
    mapped = series.astype(str).str.strip().str.lower().map(BOOLEAN_TEXT)
    bad = mapped.isna().to_numpy()
    fail_first(rows, bad, lambda i: _value_problem(series.iloc[i], column, "boolean"))
    return mapped.to_numpy(dtype=bool)


def parse_choice(frame: pd.DataFrame, column: str, rows: Rows, choices: Sequence[str]) -> np.ndarray:
    """Column ``column`` as an object array of strings, each one of ``choices``."""
    series = frame[column]
    values = series.to_numpy(dtype=object)
    bad = ~np.isin(values, np.asarray(choices, dtype=object))

    def describe(i: int) -> str:
        if _missing(series.iloc[[i]])[0]:
            return f"missing value in column {column!r}"
        return f"unexpected value {values[i]!r} in column {column!r} (expected {', '.join(map(repr, choices))})"

    fail_first(rows, bad, describe)
    return values.astype(str).astype(object)


def parse_text(frame: pd.DataFrame, column: str, rows: Rows, *, allow_missing: bool = False) -> np.ndarray:
    """Column ``column`` as an object array of strings; empty cells are errors unless allowed (then "")."""
    series = frame[column]
    missing = _missing(series)
    if not allow_missing:
        fail_first(rows, missing, lambda i: f"missing value in column {column!r}")
    values = series.to_numpy(dtype=object)
    return np.where(missing, "", values).astype(str).astype(object)


def check_positive(values: np.ndarray, rows: Rows, column: str, *, allow_zero: bool = False) -> None:
    """Every value is > 0 (>= 0 with ``allow_zero``)."""
    bad = values < 0 if allow_zero else values <= 0
    word = "negative" if allow_zero else "non-positive"
    fail_first(rows, bad, lambda i: f"{word} {column} {show(values[i])}")


def crossing_problem(best_bid: float, best_ask: float) -> str | None:
    """The words for a crossed (bid above ask) or locked (bid equal to ask) top of book, else None."""
    if best_bid > best_ask:
        return f"crossed book: best bid {show(best_bid)} is above best ask {show(best_ask)}"
    if best_bid == best_ask:
        return f"locked book: best bid {show(best_bid)} equals best ask {show(best_ask)}"
    return None


class TimeOrder:
    """Checks, across the chunks of one file, that times never go backwards.

    ``strict`` also rejects two rows with the same time (formats where every
    row is a distinct instant, such as book snapshots); formats that allow
    several events at one instant (LOBSTER messages, L2 updates, trades) use
    ``strict=False``. With ``max_gap_seconds`` set, two consecutive rows more
    than that far apart are an error; ``seconds_per_unit`` converts the time
    column to seconds for that check.
    """

    def __init__(self, path: str | Path, column: str, *, strict: bool,
                 max_gap_seconds: float | None = None, seconds_per_unit: float = 1.0):
        self.path, self.column, self.strict = path, column, strict
        self.max_gap_seconds, self.seconds_per_unit = max_gap_seconds, seconds_per_unit
        self._last_time = None
        self._last_row = None

    def check(self, times: np.ndarray, rows: Rows) -> None:
        """Check the times of one chunk, following on from the previous chunk."""
        if not len(times):
            return
        previous = np.concatenate(([times[0] if self._last_time is None else self._last_time], times[:-1]))
        previous_row = np.concatenate(([rows.numbers[0] if self._last_row is None else self._last_row],
                                       rows.numbers[:-1]))
        has_previous = np.ones(len(times), dtype=bool)
        has_previous[0] = self._last_time is not None
        backwards = has_previous & (times < previous)
        repeated = has_previous & (times == previous) if self.strict else np.zeros_like(backwards)
        if self.max_gap_seconds is None:
            gap = np.zeros_like(backwards)
        else:
            gap = has_previous & ((times - previous) * self.seconds_per_unit > self.max_gap_seconds)

        def describe(i: int) -> str:
            t, before, row = show(times[i]), show(previous[i]), int(previous_row[i])
            if backwards[i]:
                return f"timestamps out of order: {self.column} {t} is earlier than {before} on row {row}"
            if repeated[i]:
                return (f"duplicate {self.column} {t} (same as row {row}); "
                        "this format needs strictly increasing timestamps")
            seconds = (times[i] - previous[i]) * self.seconds_per_unit
            return (f"gap of {seconds:.{GAP_DIGITS}g} s since row {row} exceeds "
                    f"max_gap_seconds={show(self.max_gap_seconds)}")

        fail_first(rows, backwards | repeated | gap, describe)
        self._last_time, self._last_row = times[-1], int(rows.numbers[-1])


LevelLabel = Callable[[str, int, str], str]


def check_book_levels(rows: Rows, sides: dict[str, tuple[np.ndarray, np.ndarray]], label: LevelLabel) -> None:
    """Sanity of top-N snapshots: ``sides`` maps ``"ask"``/``"bid"`` to (price, size), each (T, levels).

    An empty level has NaN price and NaN size; it must be deeper than every
    filled level of its side. A filled level has a positive price and size;
    asks rise and bids fall with depth; the best bid is below the best ask
    (neither crossed nor locked). ``label(side, level, field)`` names a cell in
    messages, e.g. ``asks[1].price``. The earliest row with a problem is reported.
    """
    found: list[tuple[int, str]] = []

    def first(mask: np.ndarray, describe: Callable[[int, int], str]) -> None:
        bad_rows = mask.any(axis=1)
        if bad_rows.any():
            i = int(np.argmax(bad_rows))
            found.append((i, describe(i, int(np.argmax(mask[i])))))

    for side, (price, size) in sides.items():
        empty = np.isnan(price)
        first(empty & ~np.isnan(size), lambda i, j, s=side, z=size: (
            f"{label(s, j, 'size')} is {show(z[i, j])} but {label(s, j, 'price')} marks an empty level"))
        first(~empty & np.isnan(size), lambda i, j, s=side: (
            f"{label(s, j, 'size')} is missing but {label(s, j, 'price')} is set"))
        first(empty[:, :-1] & ~empty[:, 1:], lambda i, j, s=side: (
            f"{label(s, j + 1, 'price')} is set but the shallower level {label(s, j, 'price')} is empty"))
        first(~empty & (price <= 0), lambda i, j, s=side, p=price: (
            f"non-positive {label(s, j, 'price')}: {show(p[i, j])}"))
        first(~empty & (size <= 0), lambda i, j, s=side, z=size: (
            f"non-positive {label(s, j, 'size')}: {show(z[i, j])}"))
        deeper, shallower = price[:, 1:], price[:, :-1]
        with np.errstate(invalid="ignore"):
            misordered = (deeper <= shallower) if side == "ask" else (deeper >= shallower)
        first(misordered & ~np.isnan(deeper), lambda i, j, s=side, p=price: (
            f"{s} levels out of order: {label(s, j + 1, 'price')} {show(p[i, j + 1])} "
            f"after {label(s, j, 'price')} {show(p[i, j])}"))
    best_ask, best_bid = sides["ask"][0][:, 0], sides["bid"][0][:, 0]
    with np.errstate(invalid="ignore"):
        touching = best_bid >= best_ask
    if touching.any():
        i = int(np.argmax(touching))
        found.append((i, crossing_problem(best_bid[i], best_ask[i])))
    if found:
        index, problem = min(found, key=lambda item: item[0])
        raise rows.error(index, problem)
