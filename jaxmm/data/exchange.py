"""Exchange-style feeds as crypto data vendors (e.g. Tardis) export them: streaming readers and writers.

All three formats start with ``exchange, symbol, timestamp, local_timestamp``
(timestamps in integer microseconds since the epoch: exchange time and
arrival time) and are stored as CSV, gzipped CSV (``*.gz``) or Parquet
(``*.parquet``), with a header.

* incremental L2 (``l2``): ``is_snapshot, side (bid/ask), price, amount``;
  amount 0 removes the level. A run of snapshot rows after update rows
  starts the book afresh.
* top-N snapshots (``book``): ``asks[i].price, asks[i].amount, bids[i].price,
  bids[i].amount`` for i = 0..N-1 (see :mod:`jaxmm.data.book`); levels
  beyond the depth of the book are left empty.
* trades (``trades``): ``id, side (buy/sell: the aggressor), price, amount``.

Rows are ordered by ``local_timestamp`` (arrival order, as vendors sort them;
``time_column`` picks another). L2 updates and trades may share a timestamp,
snapshots may not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from jaxmm.data.book import ASK, BID, SIDES, PRICE, AMOUNT, count_levels, exchange_label, level_column, \
    level_columns
from jaxmm.data.l2book import L2Book
from jaxmm.data.stream import TIME_ORIGIN_EPOCH, DataStream, ReadSummary
from jaxmm.data.tables import DEFAULT_CHUNK_ROWS, PARQUET, RawChunk, as_frames, empty_frame, storage_kind, \
    typed, write_table
from jaxmm.data.validation import Rows, TimeOrder, check_book_levels, check_columns, check_positive, \
    crossing_problem, data_error, parse_bool, parse_choice, parse_float, parse_int, parse_text, show

FORMAT_L2 = "l2"
FORMAT_BOOK = "book"
FORMAT_TRADES = "trades"
MICROS_PER_SECOND = 1_000_000
DEFAULT_TIME_COLUMN = "local_timestamp"
BUY = "buy"
SELL = "sell"
UNKNOWN_SIDE = "unknown"
UNKNOWN_SIDE_ERROR = "error"
UNKNOWN_SIDE_SKIP = "skip"
UNKNOWN_SIDE_POLICIES = (UNKNOWN_SIDE_ERROR, UNKNOWN_SIDE_SKIP)
COMMON_DTYPES = {"exchange": str, "symbol": str, "timestamp": np.int64, "local_timestamp": np.int64}
L2_DTYPES = {**COMMON_DTYPES, "is_snapshot": bool, "side": str, "price": np.float64, "amount": np.float64}
TRADE_DTYPES = {**COMMON_DTYPES, "id": str, "side": str, "price": np.float64, "amount": np.float64}
REMOVALS = "level removals"
ABSENT_REMOVALS = "removals of levels not in the book"
SNAPSHOT_ROWS = "snapshot rows"


def book_dtypes(levels: int) -> dict:
    """Column dtypes of a top-``levels`` snapshot frame."""
    return {**COMMON_DTYPES, **{name: np.float64 for name in level_columns(levels)}}


class _ExchangeParser:
    """The columns every exchange format starts with, and the time order of the rows."""

    def __init__(self, summary: ReadSummary, *, strict: bool, max_gap_seconds: float | None, time_column: str):
        self.summary, self.time_column = summary, time_column
        self.times = TimeOrder(summary.path, time_column, strict=strict, max_gap_seconds=max_gap_seconds,
                               seconds_per_unit=1 / MICROS_PER_SECOND)

    def common(self, frame: pd.DataFrame, rows: Rows) -> dict[str, np.ndarray]:
        values = {"exchange": parse_text(frame, "exchange", rows), "symbol": parse_text(frame, "symbol", rows)}
        for name in ("timestamp", "local_timestamp"):
            values[name] = parse_int(frame, name, rows)
            check_positive(values[name], rows, name)
        self.times.check(values[self.time_column], rows)
        self.summary.note_times(values[self.time_column], 1 / MICROS_PER_SECOND)
        return values

    def finish(self) -> None:
        """Nothing is left to check at the end of the file."""


class _L2Parser(_ExchangeParser):
    def __init__(self, summary: ReadSummary, **options):
        super().__init__(summary, strict=False, **options)
        self.books: dict[tuple[str, str], L2Book] = {}
        self.in_snapshot: dict[tuple[str, str], bool] = {}
        self.group_time, self.group_row, self.touched = None, None, set()

    def __call__(self, raw: RawChunk) -> pd.DataFrame:
        rows = raw.rows
        check_columns(rows.path, raw.frame.columns, list(L2_DTYPES))
        values = self.common(raw.frame, rows)
        values["is_snapshot"] = parse_bool(raw.frame, "is_snapshot", rows)
        values["side"] = parse_choice(raw.frame, "side", rows, (BID, ASK))
        values["price"] = parse_float(raw.frame, "price", rows)
        values["amount"] = parse_float(raw.frame, "amount", rows)
        check_positive(values["price"], rows, "price")
        check_positive(values["amount"], rows, "amount", allow_zero=True)
        absent = self._replay(values, rows)
        self.summary.count(values["side"])
        self.summary.counts[SNAPSHOT_ROWS] += int(np.count_nonzero(values["is_snapshot"]))
        self.summary.counts[REMOVALS] += int(np.count_nonzero(values["amount"] == 0))
        self.summary.counts[ABSENT_REMOVALS] += absent
        return pd.DataFrame(values).astype(L2_DTYPES)

    def _replay(self, values: dict[str, np.ndarray], rows: Rows) -> int:
        """Apply the updates to the books; check each book after every group of rows sharing a time."""
        absent = 0
        for time, exchange, symbol, snapshot, side, price, amount, row in zip(
                values[self.time_column].tolist(), values["exchange"].tolist(), values["symbol"].tolist(),
                values["is_snapshot"].tolist(), values["side"].tolist(), values["price"].tolist(),
                values["amount"].tolist(), rows.numbers.tolist()):
            if time != self.group_time:
                self._check_group()
                self.group_time = time
            key = (exchange, symbol)
            book = self.books.setdefault(key, L2Book())
            if snapshot and not self.in_snapshot.get(key, False):
                book.clear()
            self.in_snapshot[key] = snapshot
            absent += not book.apply(side, price, amount)
            self.touched.add(key)
            self.group_row = row
        return absent

    def _check_group(self) -> None:
        for exchange, symbol in sorted(self.touched):
            best_bid, best_ask = self.books[exchange, symbol].top()
            problem = None if best_bid is None or best_ask is None else crossing_problem(best_bid, best_ask)
            if problem:
                raise data_error(self.summary.path, f"{problem} in {exchange} {symbol} after the updates at "
                                                    f"{self.time_column} {show(self.group_time)}", self.group_row)
        self.touched = set()

    def finish(self) -> None:
        self._check_group()


class _BookParser(_ExchangeParser):
    def __init__(self, summary: ReadSummary, levels: int | None, **options):
        super().__init__(summary, strict=True, **options)
        self.levels = levels

    def __call__(self, raw: RawChunk) -> pd.DataFrame:
        rows, frame = raw.rows, raw.frame
        levels = count_levels(frame.columns)
        if not levels:
            raise data_error(rows.path, "header: no level columns (asks[0].price, asks[0].amount, ...)")
        if self.levels is not None and levels != self.levels:
            raise data_error(rows.path, f"header: expected {self.levels} levels, found {levels}")
        check_columns(rows.path, frame.columns, list(book_dtypes(levels)))
        values = self.common(frame, rows)
        sides = {side: tuple(np.stack([parse_float(frame, level_column(side, i, field), rows, allow_missing=True)
                                       for i in range(levels)], axis=1) for field in (PRICE, AMOUNT))
                 for side in SIDES}
        check_book_levels(rows, sides, exchange_label)
        for level in range(levels):
            for side in SIDES:
                values[level_column(side, level, PRICE)] = sides[side][0][:, level]
                values[level_column(side, level, AMOUNT)] = sides[side][1][:, level]
        self.summary.levels = levels
        return pd.DataFrame(values).astype(book_dtypes(levels))


class _TradeParser(_ExchangeParser):
    def __init__(self, summary: ReadSummary, unknown_side: str, **options):
        super().__init__(summary, strict=False, **options)
        self.sides = (BUY, SELL, UNKNOWN_SIDE) if unknown_side == UNKNOWN_SIDE_SKIP else (BUY, SELL)

    def __call__(self, raw: RawChunk) -> pd.DataFrame:
        rows, frame = raw.rows, raw.frame
        check_columns(rows.path, frame.columns, list(TRADE_DTYPES))
        values = self.common(frame, rows)
        values["id"] = parse_text(frame, "id", rows, allow_missing=True)
        values["side"] = parse_choice(frame, "side", rows, self.sides)
        for name in ("price", "amount"):
            values[name] = parse_float(frame, name, rows)
            check_positive(values[name], rows, name)
        self.summary.count(values["side"])
        unknown = values["side"] == UNKNOWN_SIDE
        reason = f"{UNKNOWN_SIDE} aggressor side (unknown_side={UNKNOWN_SIDE_SKIP!r})"
        self.summary.skip(reason, np.count_nonzero(unknown))
        return pd.DataFrame(values)[~unknown].reset_index(drop=True).astype(TRADE_DTYPES)


def _stream(path, fmt: str, parser, chunk_rows: int) -> DataStream:
    return DataStream(path, fmt, parser, header=True, time_origin=TIME_ORIGIN_EPOCH, chunk_rows=chunk_rows)


def read_l2_updates(path: str | Path, *, max_gap_seconds: float | None = None,
                    time_column: str = DEFAULT_TIME_COLUMN, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> DataStream:
    """Stream incremental L2 updates as frames with :data:`L2_DTYPES`.

    Price > 0, amount >= 0 (0 removes the level). The book of each
    exchange/symbol is rebuilt on the fly and must be neither crossed nor
    locked after each group of rows sharing a time. Times may repeat.
    """
    return _stream(path, FORMAT_L2, lambda summary: _L2Parser(
        summary, max_gap_seconds=max_gap_seconds, time_column=time_column), chunk_rows)


def read_book_snapshots(path: str | Path, *, levels: int | None = None, max_gap_seconds: float | None = None,
                        time_column: str = DEFAULT_TIME_COLUMN, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> DataStream:
    """Stream top-N snapshots as frames with :func:`book_dtypes` (empty levels NaN).

    Each row must be a sane book (see :func:`jaxmm.data.validation.check_book_levels`);
    times strictly increase. ``levels`` requires exactly that many levels.
    """
    return _stream(path, FORMAT_BOOK, lambda summary: _BookParser(
        summary, levels, max_gap_seconds=max_gap_seconds, time_column=time_column), chunk_rows)


def read_trades(path: str | Path, *, unknown_side: str = UNKNOWN_SIDE_ERROR, max_gap_seconds: float | None = None,
                time_column: str = DEFAULT_TIME_COLUMN, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> DataStream:
    """Stream trades as frames with :data:`TRADE_DTYPES`; price and amount > 0; times may repeat.

    A side other than buy/sell is an error; with ``unknown_side="skip"``,
    rows whose side is ``unknown`` (some venues do not report the aggressor)
    are counted and left out.
    """
    if unknown_side not in UNKNOWN_SIDE_POLICIES:
        raise ValueError(f"unknown_side must be one of {UNKNOWN_SIDE_POLICIES}, got {unknown_side!r}")
    return _stream(path, FORMAT_TRADES, lambda summary: _TradeParser(
        summary, unknown_side, max_gap_seconds=max_gap_seconds, time_column=time_column), chunk_rows)


def _write(path: str | Path, frames, dtypes_of) -> int:
    """Write frames cast to ``dtypes_of(frame)``; in CSV, booleans read ``true``/``false`` as vendors write them."""
    text = storage_kind(path) != PARQUET

    def prepare(frame: pd.DataFrame) -> pd.DataFrame:
        frame = typed(frame, dtypes_of(frame))
        if text:
            for name in frame.columns[frame.dtypes == bool]:
                frame[name] = np.where(frame[name], "true", "false")
        return frame

    return write_table(path, (prepare(frame) for frame in as_frames(frames)), header=True,
                       empty=prepare(empty_frame(dtypes_of(pd.DataFrame()))))


def write_l2_updates(path: str | Path, frames: pd.DataFrame | Iterable[pd.DataFrame]) -> int:
    """Write incremental L2 frames (columns of :data:`L2_DTYPES`); returns the rows written."""
    return _write(path, frames, lambda frame: L2_DTYPES)


def write_book_snapshots(path: str | Path, frames: pd.DataFrame | Iterable[pd.DataFrame]) -> int:
    """Write top-N snapshot frames (levels taken from the columns of each frame); returns the rows written."""
    return _write(path, frames, lambda frame: book_dtypes(max(count_levels(frame.columns), 1)))


def write_trades(path: str | Path, frames: pd.DataFrame | Iterable[pd.DataFrame]) -> int:
    """Write trade frames (columns of :data:`TRADE_DTYPES`); returns the rows written."""
    return _write(path, frames, lambda frame: TRADE_DTYPES)
