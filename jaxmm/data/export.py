"""Book events written out as market data: LOBSTER messages and books, L2 updates and trades.

:func:`export_stream` turns an :class:`~jaxmm.data.events.EventStream` from
the simulator (:func:`jaxmm.data.recorder.simulate_events`, or the model
market of :mod:`jaxmm.data.model_market`) into the frames the writers of
:mod:`jaxmm.data.lobster` and :mod:`jaxmm.data.exchange` take.

Order ids: the simulator keeps aggregated volume per level, so the exporter
keeps a per-order FIFO book (:class:`~jaxmm.data.fifo.FifoBook`) and gives
every accepted limit order a new id. A ``REMOVE`` of units at a queue offset
becomes partial cancels (type 2) and deletes (type 3) of the orders covering
those units, a ``TAKE`` becomes visible executions (type 4) of the front
orders level by level, and a ``SHIFT`` deletes the orders left outside the
simulator's window. The initial book is one order per level, submitted at
``start_time``; the flow of step ``k`` follows at ``start_time + (k + 1) *
step_seconds``, its events ``EVENT_SPACING_SECONDS`` apart (the messages of one
event share a time). L2 updates carry each changed level's new amount (the
initial book as a snapshot), trades one row per aggressor and price level, in
microseconds since the epoch from ``epoch_seconds`` on the same layout.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from jaxmm.data.book import ASK as ASK_NAME, BID as BID_NAME, AMOUNT, PRICE, level_column, level_columns
from jaxmm.data.events import KIND, OFFSET, PRICE as PRICE_FIELD, SIDE, SIZE, EventKind, EventStream
from jaxmm.data.exchange import BUY, L2_DTYPES, MICROS_PER_SECOND, SELL, TRADE_DTYPES
from jaxmm.data.fifo import ASK, BID, FifoBook
from jaxmm.data.lobster import BUY as LOBSTER_BUY, MESSAGE_COLUMNS, PRICE_SCALE, SELL as LOBSTER_SELL
from jaxmm.data.lobster_codes import EventType

EVENT_SPACING_SECONDS = 1e-6
EVENT_SPACING_MICROS = 1
DEFAULT_LOBSTER_START = 34_200.0  # 09:30:00 after midnight
DEFAULT_EPOCH_SECONDS = 1_704_205_800  # 2024-01-02 14:30:00 UTC
DEFAULT_LEVELS = 10
EXCHANGE = "jaxmm-sim"
SYMBOL = "SIM"
PRICE_DECIMALS = 10  # decimal places kept when a tick price becomes a float (no 100.07000000000001)
_SIDE_NAME = {BID: BID_NAME, ASK: ASK_NAME}
_DIRECTION = {BID: LOBSTER_BUY, ASK: LOBSTER_SELL}


@dataclasses.dataclass
class MarketTape:
    """The frames one stream exports to: LOBSTER ``messages`` and ``book``, exchange ``l2`` and ``trades``."""

    messages: pd.DataFrame
    book: pd.DataFrame
    l2: pd.DataFrame
    trades: pd.DataFrame


class _Tape:
    """Accumulates the rows of the four outputs while the FIFO book follows the events."""

    def __init__(self, stream: EventStream, levels: int, lobster_start: float, epoch_seconds: int):
        self.stream, self.levels = stream, levels
        self.lobster_start, self.epoch_micros = lobster_start, epoch_seconds * MICROS_PER_SECOND
        self.book = FifoBook()
        self.next_id = 1
        self.messages: list[tuple] = []
        self.book_rows: list[list] = []
        self.l2: list[tuple] = []
        self.trades: list[tuple] = []
        self.aggressors = 0

    def lobster_price(self, ticks: int) -> int:
        return int(round((self.stream.price_origin + self.stream.tick * ticks) * PRICE_SCALE))

    def price(self, ticks: int) -> float:
        return round(self.stream.price_origin + self.stream.tick * ticks, PRICE_DECIMALS)

    def message(self, time: float, event: EventType, order_id: int, size: int, ticks: int, side: int) -> None:
        self.messages.append((time, int(event), order_id, size, self.lobster_price(ticks), _DIRECTION[side]))
        if self.book_rows is None:
            return
        row = np.full((self.levels, 2, 2), np.nan)  # level, (ask, bid), (ticks, units)
        for column, side_index in enumerate((ASK, BID)):
            top = self.book.top(side_index, self.levels)
            if top:
                row[:len(top), column] = top
        self.book_rows.append(row)

    def level_update(self, micros: int, side: int, ticks: int, snapshot: bool = False) -> None:
        self.l2.append((EXCHANGE, SYMBOL, micros, micros, snapshot, _SIDE_NAME[side], self.price(ticks),
                        float(self.book.total(side, ticks))))

    def add(self, time: float, micros: int, side: int, ticks: int, size: int, snapshot: bool = False) -> None:
        order_id, self.next_id = self.next_id, self.next_id + 1
        self.book.add(side, ticks, size, order_id)
        self.message(time, EventType.SUBMIT, order_id, size, ticks, side)
        self.level_update(micros, side, ticks, snapshot)

    def remove(self, time: float, micros: int, side: int, ticks: int, size: int, offset: int) -> None:
        for piece in self.book.units(side, ticks, offset, size):
            self.book.reduce(piece.order_id, piece.taken)
            kind = EventType.DELETE if piece.left == 0 else EventType.PARTIAL_CANCEL
            self.message(time, kind, piece.order_id, piece.taken, ticks, side)
        self.level_update(micros, side, ticks)

    def take(self, time: float, micros: int, side: int, size: int, limit: int) -> None:
        resting = 1 - side
        self.aggressors += 1
        traded: dict[int, int] = {}
        for piece in self.book.take_units(side, size, limit):
            self.book.reduce(piece.order_id, piece.taken)
            self.message(time, EventType.EXECUTE_VISIBLE, piece.order_id, piece.taken, piece.price, resting)
            traded[piece.price] = traded.get(piece.price, 0) + piece.taken
        for ticks, amount in traded.items():
            self.trades.append((EXCHANGE, SYMBOL, micros, micros, str(self.aggressors),
                                BUY if side == BID else SELL, self.price(ticks), float(amount)))
            self.level_update(micros, resting, ticks)

    def shift(self, time: float, micros: int, origin: int) -> None:
        levels = set()
        for side, piece in self.book.outside(origin, origin + self.stream.num_levels):
            self.book.reduce(piece.order_id, piece.taken)
            self.message(time, EventType.DELETE, piece.order_id, piece.taken, piece.price, side)
            levels.add((side, piece.price))
        for side, ticks in sorted(levels):
            self.level_update(micros, side, ticks)


class TapeExporter:
    """Exports consecutive streams of one market (each continuing the last) as frames, chunk by chunk.

    The first stream's initial book is submitted at ``lobster_start``; ``add(stream, first_step)``
    exports the stream's steps as steps ``first_step, first_step + 1, ...`` of the market, and
    ``take()`` returns the frames gathered since the last call (bounded memory for long markets).
    With ``book=False`` the LOBSTER order-book rows are not built (they are the slow part).
    """

    def __init__(self, first: EventStream, *, levels: int = DEFAULT_LEVELS,
                 lobster_start: float = DEFAULT_LOBSTER_START, epoch_seconds: int = DEFAULT_EPOCH_SECONDS,
                 book: bool = True):
        self.tape = _Tape(first, levels, lobster_start, epoch_seconds)
        self.book = book
        if not book:
            self.tape.book_rows = None
        self.step_micros = int(round(first.step_seconds * MICROS_PER_SECOND))
        if self.step_micros != first.step_seconds * MICROS_PER_SECOND:
            raise ValueError(f"step_seconds must be a whole number of microseconds, got {first.step_seconds}")
        origin0 = int(first.start_origin[0])
        for side in (BID, ASK):
            for index in np.flatnonzero(first.start_volume[0, side]):
                self.tape.add(lobster_start, self.tape.epoch_micros, side, origin0 + int(index),
                              int(first.start_volume[0, side, index]), snapshot=True)

    def add(self, stream: EventStream, first_step: int = 0) -> None:
        tape = self.tape
        tape.stream = stream
        for step in range(stream.num_steps):
            base_time = tape.lobster_start + (first_step + step + 1) * stream.step_seconds
            base_micros = tape.epoch_micros + (first_step + step + 1) * self.step_micros
            for j, row in enumerate(stream.step_events(step).tolist()):
                time = base_time + (j + 1) * EVENT_SPACING_SECONDS
                micros = base_micros + (j + 1) * EVENT_SPACING_MICROS
                kind, side, ticks, size = row[KIND], row[SIDE], row[PRICE_FIELD], row[SIZE]
                if kind == EventKind.ADD:
                    tape.add(time, micros, side, ticks, size)
                elif kind == EventKind.REMOVE:
                    tape.remove(time, micros, side, ticks, size, row[OFFSET])
                elif kind == EventKind.TAKE:
                    tape.take(time, micros, side, size, ticks)
                elif kind == EventKind.SHIFT:
                    tape.shift(time, micros, ticks)
                else:
                    raise ValueError(f"cannot export event kind {kind} (recorded data, not a simulator stream)")

    def take(self) -> MarketTape:
        """The frames exported since the last call."""
        tape, levels = self.tape, self.tape.levels
        messages = pd.DataFrame(tape.messages, columns=list(MESSAGE_COLUMNS))
        if self.book:
            rows = np.asarray(tape.book_rows, dtype=np.float64).reshape(-1, levels, 2, 2)
            rows[..., 0] = np.round((tape.stream.price_origin + tape.stream.tick * rows[..., 0]) * PRICE_SCALE)
            book = pd.DataFrame(rows.reshape(-1, 4 * levels), columns=_book_columns(levels))[level_columns(levels)]
            tape.book_rows = []
        else:
            book = pd.DataFrame(columns=level_columns(levels))
        l2 = pd.DataFrame(tape.l2, columns=list(L2_DTYPES)).astype(L2_DTYPES)
        trades = pd.DataFrame(tape.trades, columns=list(TRADE_DTYPES)).astype(TRADE_DTYPES)
        tape.messages, tape.l2, tape.trades = [], [], []
        return MarketTape(messages, book, l2, trades)


def export_stream(stream: EventStream, *, levels: int = DEFAULT_LEVELS,
                  lobster_start: float = DEFAULT_LOBSTER_START,
                  epoch_seconds: int = DEFAULT_EPOCH_SECONDS) -> MarketTape:
    """The LOBSTER, L2 and trade frames of ``stream`` (see the module docstring for the layout)."""
    exporter = TapeExporter(stream, levels=levels, lobster_start=lobster_start, epoch_seconds=epoch_seconds)
    exporter.add(stream)
    return exporter.take()


def _book_columns(levels: int) -> list[str]:
    """Column names in the order ``_Tape.message`` fills a row: per level ask (price, amount), bid (price, amount)."""
    return [level_column(side, level, field) for level in range(levels) for side in (ASK_NAME, BID_NAME)
            for field in (PRICE, AMOUNT)]
