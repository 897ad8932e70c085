"""LOBSTER message and order-book files (https://lobsterdata.com): streaming readers and writers.

Message file, CSV without header, one row per event: time (seconds after
midnight), event type (:class:`EventType`), order id, size, price (dollars
x :data:`PRICE_SCALE`), direction (:data:`BUY` / :data:`SELL`, the side of
the resting order). Several messages may share one time.

Order-book file, CSV without header, row ``k`` is the book after message
``k``: for each level 1..N, ask price, ask size, bid price, bid size. Empty
levels carry LOBSTER's dummy values (:data:`DUMMY_ASK_PRICE`,
:data:`DUMMY_BID_PRICE`, :data:`DUMMY_SIZE`); in frames they are NaN (see
:mod:`jaxmm.data.book`). Gzipped CSV and Parquet (named columns) work too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Collection, Iterable

import numpy as np
import pandas as pd

from jaxmm.data.book import AMOUNT, ASK, BID, FIELDS_PER_LEVEL, PRICE, count_levels, level_column, level_columns
from jaxmm.data.lobster_codes import EVENT_NAMES, EventType
from jaxmm.data.lobster_orders import UNKNOWN_ORDER_POLICIES, UNKNOWN_ORDERS_ERROR, OrderTracker
from jaxmm.data.stream import TIME_ORIGIN_MIDNIGHT, DataStream, ReadSummary
from jaxmm.data.tables import DEFAULT_CHUNK_ROWS, RawChunk, as_frames, empty_frame, iter_raw_chunks, typed, \
    write_table
from jaxmm.data.validation import Rows, TimeOrder, check_book_levels, check_columns, check_positive, data_error, \
    fail_first, parse_float, parse_int, show


BUY = 1
SELL = -1
PRICE_SCALE = 10_000
DUMMY_ASK_PRICE = 9_999_999_999
DUMMY_BID_PRICE = -9_999_999_999
DUMMY_SIZE = 0
SECONDS_PER_DAY = 86_400
FORMAT_MESSAGES = "lobster"
FORMAT_BOOK = "lobster_book"
# Skipped by default: not visible in the book (5), auction crosses (6), halt notices (7).
DEFAULT_SKIP_EVENTS = frozenset({EventType.EXECUTE_HIDDEN, EventType.CROSS_TRADE, EventType.TRADING_HALT})
MESSAGE_DTYPES = {"time": np.float64, "event_type": np.int8, "order_id": np.int64, "size": np.int64,
                  "price": np.int64, "direction": np.int8}
MESSAGE_COLUMNS = tuple(MESSAGE_DTYPES)
TIME = "time"
_DUMMY_PRICE = {ASK: DUMMY_ASK_PRICE, BID: DUMMY_BID_PRICE}


def skip_reason(event: int) -> str:
    """The summary key under which skipped messages of type ``event`` are counted."""
    return f"{EVENT_NAMES[EventType(event)]} (event type {int(event)})"


def book_label(side: str, level: int, field: str) -> str:
    """How a book cell is named in messages: ``ask price level 2`` (LOBSTER levels count from 1)."""
    return f"{side} {'size' if field == AMOUNT else field} level {level + 1}"


def _named(raw: RawChunk, columns: list[str]) -> pd.DataFrame:
    """The raw frame with ``columns`` as names: checked against a Parquet header, assigned to a headerless CSV."""
    if raw.named:
        check_columns(raw.rows.path, raw.frame.columns, columns)
        return raw.frame
    if raw.frame.shape[1] != len(columns):
        raise data_error(raw.rows.path, f"expected {len(columns)} columns, found {raw.frame.shape[1]}",
                         int(raw.rows.numbers[0]) if len(raw.rows) else None)
    return raw.frame.set_axis(columns, axis=1)


class _MessageParser:
    def __init__(self, summary: ReadSummary, path: Path, skip_events: frozenset, unknown_orders: str,
                 max_gap_seconds: float | None):
        self.summary, self.skip_events = summary, skip_events
        self.times = TimeOrder(path, TIME, strict=False, max_gap_seconds=max_gap_seconds)
        self.orders = OrderTracker(unknown_orders)

    def __call__(self, raw: RawChunk) -> pd.DataFrame:
        frame, rows = _named(raw, list(MESSAGE_COLUMNS)), raw.rows
        values = {TIME: message_times(frame, rows)}
        values.update({name: parse_int(frame, name, rows) for name in MESSAGE_COLUMNS[1:]})
        event, size, price = values["event_type"], values["size"], values["price"]
        fail_first(rows, ~np.isin(event, list(EventType)),
                   lambda i: f"unknown event type {event[i]} (expected 1 to {len(EventType)})")
        fail_first(rows, ~np.isin(values["direction"], (BUY, SELL)),
                   lambda i: f"direction {values['direction'][i]} is neither {BUY} (buy) nor {SELL} (sell)")
        self.times.check(values[TIME], rows)
        self.summary.note_times(values[TIME])
        trading = event != EventType.TRADING_HALT  # halt rows carry price -1/0/1 and size 0 by design
        check_positive(size[trading], rows.subset(trading), "size")
        check_positive(price[trading], rows.subset(trading), "price")
        self.summary.count(event, EVENT_NAMES)
        skipped = np.isin(event, list(self.skip_events))
        for kind in self.skip_events:
            self.summary.skip(skip_reason(kind), np.count_nonzero(event == kind))
        unknown = self.orders.apply(event, values["order_id"], size, rows, active=~skipped)
        self.summary.skip(self.orders.skip_reason, np.count_nonzero(unknown))
        keep = ~skipped & ~unknown
        return pd.DataFrame({name: values[name][keep].astype(dtype) for name, dtype in MESSAGE_DTYPES.items()})

    def finish(self) -> None:
        """Nothing is left to check at the end of a message file."""


def message_times(frame: pd.DataFrame, rows: Rows) -> np.ndarray:
    """The time column of a message chunk, checked to lie within one day."""
    time = parse_float(frame, TIME, rows)
    fail_first(rows, (time < 0) | (time > SECONDS_PER_DAY),
               lambda i: f"time {show(time[i])} is not between 0 and {SECONDS_PER_DAY} seconds after midnight")
    return time


def read_lobster_messages(path: str | Path, *, skip_events: Collection[int] = DEFAULT_SKIP_EVENTS,
                          unknown_orders: str = UNKNOWN_ORDERS_ERROR, max_gap_seconds: float | None = None,
                          chunk_rows: int = DEFAULT_CHUNK_ROWS) -> DataStream:
    """Stream a LOBSTER message file as frames with :data:`MESSAGE_DTYPES`.

    Rows whose event type is in ``skip_events`` (default: hidden executions,
    cross trades, trading halts) are counted in the summary and left out.
    A cancel, delete or visible execution of an order that is not live
    (never submitted in this file, or already fully removed) is an error
    with ``unknown_orders="error"``; with ``"skip"`` (orders placed before
    the file starts) such rows are counted and left out. Times may repeat but
    never decrease; ``max_gap_seconds`` bounds the time between rows.
    """
    if unknown_orders not in UNKNOWN_ORDER_POLICIES:
        raise ValueError(f"unknown_orders must be one of {UNKNOWN_ORDER_POLICIES}, got {unknown_orders!r}")
    skip = frozenset(EventType(event) for event in skip_events)
    return DataStream(path, FORMAT_MESSAGES,
                      lambda summary: _MessageParser(summary, Path(path), skip, unknown_orders, max_gap_seconds),
                      header=False, time_origin=TIME_ORIGIN_MIDNIGHT, chunk_rows=chunk_rows)


class _MessageTimes:
    """Times of a message file, handed out in step with the rows of its order-book file."""

    def __init__(self, path: str | Path, max_gap_seconds: float | None, chunk_rows: int):
        self.path = Path(path)
        self._chunks = iter_raw_chunks(self.path, header=False, chunk_rows=chunk_rows)
        self._order = TimeOrder(self.path, TIME, strict=False, max_gap_seconds=max_gap_seconds)
        self._buffer = np.empty(0)

    def _pull(self) -> bool:
        raw = next(self._chunks, None)
        if raw is None:
            return False
        time = message_times(_named(raw, list(MESSAGE_COLUMNS)), raw.rows)
        self._order.check(time, raw.rows)
        self._buffer = np.concatenate([self._buffer, time])
        return True

    def take(self, rows: Rows) -> np.ndarray:
        """The times of the messages matching book ``rows``."""
        while len(self._buffer) < len(rows) and self._pull():
            pass
        if len(self._buffer) < len(rows):
            raise rows.error(len(self._buffer), f"the order-book file has more rows than the message file {self.path}")
        times, self._buffer = self._buffer[:len(rows)], self._buffer[len(rows):]
        return times

    def check_exhausted(self, book_path: Path, book_rows: int) -> None:
        """The message file has no rows beyond the ``book_rows`` of the book file."""
        if len(self._buffer) or self._pull():
            raise data_error(book_path, f"the order-book file ends after {book_rows} rows but the message file "
                                        f"{self.path} has more")


class _BookParser:
    def __init__(self, summary: ReadSummary, levels: int | None, times: _MessageTimes | None):
        self.summary, self.levels, self.times = summary, levels, times

    def _columns(self, raw: RawChunk) -> list[str]:
        width = count_levels(raw.frame.columns) * FIELDS_PER_LEVEL if raw.named else raw.frame.shape[1]
        if not width or width % FIELDS_PER_LEVEL:
            raise data_error(raw.rows.path, f"expected {FIELDS_PER_LEVEL} columns per level (ask price, ask size, "
                                            f"bid price, bid size), found {raw.frame.shape[1]} columns")
        levels = width // FIELDS_PER_LEVEL
        if self.levels is not None and levels != self.levels:
            raise data_error(raw.rows.path, f"expected {self.levels} levels, found {levels}")
        return level_columns(levels)

    def __call__(self, raw: RawChunk) -> pd.DataFrame:
        columns, rows = self._columns(raw), raw.rows
        frame = _named(raw, columns)
        levels = len(columns) // FIELDS_PER_LEVEL
        sides = {}
        for side in (ASK, BID):
            price, size = (np.stack([parse_int(frame, level_column(side, i, field), rows) for i in range(levels)],
                                    axis=1).astype(np.float64) for field in (PRICE, AMOUNT))
            empty = price == _DUMMY_PRICE[side]
            price[empty] = np.nan
            size[empty & (size == DUMMY_SIZE)] = np.nan
            sides[side] = (price, size)
        check_book_levels(rows, sides, book_label)
        out = {}
        if self.times is not None:
            out[TIME] = self.times.take(rows)
            self.summary.note_times(out[TIME])
        for level in range(levels):
            for side in (ASK, BID):
                price, size = sides[side]
                out[level_column(side, level, PRICE)] = price[:, level]
                out[level_column(side, level, AMOUNT)] = size[:, level]
        self.summary.levels = levels
        return pd.DataFrame(out, columns=([TIME] if self.times is not None else []) + columns)

    def finish(self) -> None:
        if self.times is not None:
            self.times.check_exhausted(Path(self.summary.path), self.summary.rows)


def read_lobster_book(path: str | Path, *, message_path: str | Path | None = None, levels: int | None = None,
                      max_gap_seconds: float | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> DataStream:
    """Stream a LOBSTER order-book file as float64 frames with columns ``asks[i].price``, ``asks[i].amount``, ...

    Empty levels (LOBSTER dummy price and size 0) become NaN. Each row must be
    a sane book (see :func:`jaxmm.data.validation.check_book_levels`).
    ``levels`` requires exactly that many levels. With ``message_path`` the
    frames start with a ``time`` column taken from the message file (row ``k``
    of the book follows message ``k``; both files must have the same number of
    rows; only the message times are checked there). Rows may share a time.
    """
    def parser(summary: ReadSummary) -> _BookParser:
        times = None if message_path is None else _MessageTimes(message_path, max_gap_seconds, chunk_rows)
        return _BookParser(summary, levels, times)

    return DataStream(path, FORMAT_BOOK, parser, header=False, time_origin=TIME_ORIGIN_MIDNIGHT,
                      chunk_rows=chunk_rows)


def write_lobster_messages(path: str | Path, frames: pd.DataFrame | Iterable[pd.DataFrame]) -> int:
    """Write message frames (columns :data:`MESSAGE_COLUMNS`) as a LOBSTER message file; returns rows written."""
    chunks = (typed(frame, MESSAGE_DTYPES) for frame in as_frames(frames))
    return write_table(path, chunks, header=False, empty=empty_frame(MESSAGE_DTYPES))


def _book_for_file(frame: pd.DataFrame) -> pd.DataFrame:
    """A book frame in LOBSTER's integer layout: NaN prices become the dummy prices, NaN sizes 0."""
    levels = count_levels(frame.columns)
    out = {}
    for level in range(levels):
        for side in (ASK, BID):
            price, size = level_column(side, level, PRICE), level_column(side, level, AMOUNT)
            out[price] = frame[price].fillna(_DUMMY_PRICE[side]).to_numpy(dtype=np.int64)
            out[size] = frame[size].fillna(DUMMY_SIZE).to_numpy(dtype=np.int64)
    return pd.DataFrame(out, columns=level_columns(levels))


def write_lobster_book(path: str | Path, frames: pd.DataFrame | Iterable[pd.DataFrame]) -> int:
    """Write book frames (level columns as read by :func:`read_lobster_book`; a ``time`` column is dropped)."""
    chunks = (_book_for_file(frame) for frame in as_frames(frames))
    return write_table(path, chunks, header=False, empty=pd.DataFrame(columns=level_columns(1), dtype=np.int64))


def lobster_trades(messages: pd.DataFrame) -> pd.DataFrame:
    """Executions (event types 4 and 5) of a message frame as trades for :mod:`jaxmm.data.features`.

    Columns: ``time``, ``price`` (dollars), ``size`` and ``side``, the
    aggressor's sign (+1 buy, -1 sell): LOBSTER's direction is the side of the
    resting order, so a buyer-initiated trade executes a sell order.
    """
    executions = messages[messages["event_type"].isin([EventType.EXECUTE_VISIBLE, EventType.EXECUTE_HIDDEN])]
    return pd.DataFrame({TIME: executions[TIME].to_numpy(dtype=np.float64),
                         "price": executions["price"].to_numpy(dtype=np.float64) / PRICE_SCALE,
                         "size": executions["size"].to_numpy(dtype=np.float64),
                         "side": -executions["direction"].to_numpy(dtype=np.int64)})
