"""Recorded market data as :class:`~jaxmm.data.events.EventStream`: what the replay environment replays.

LOBSTER messages (:func:`lobster_stream`) keep order ids, so a per-order
FIFO book on the host (:class:`~jaxmm.data.fifo.FifoBook`) gives every
cancellation and execution its exact queue offset: submits become ``ADD``,
partial cancels and deletes ``REMOVE``, visible executions ``EXECUTE``.
L2 updates with trades (:func:`l2_stream`) have no order ids: a level that
grows is an ``ADD`` at the back, a trade an ``EXECUTE`` at the front of its
level, and a level that shrinks by more than was traded there a
``CANCEL_L2``, whose queue position the replay's queue model decides.

Prices become ticks relative to ``price_origin`` (the first price of the
data) with ``tick`` the price step (inferred as the greatest common divisor
of the price differences unless given): LOBSTER prices are dollars x 10,000,
around 10^6 to 10^7, and the book's int32 ticks times units would wrap past
2^31 at such levels; relative ticks stay within +-:data:`MAX_RELATIVE_TICKS`.

Steps: a step is ``step_seconds`` of data from ``start_time`` (default: the
first row's time rounded down to a whole step). At the end of each step the
book window (``2 * half_width`` ticks) is re-centred on the recorded mid: a
``SHIFT`` row, then an ``ADD`` for every level the window takes in again
(the host book keeps every level, so volume leaving the window comes back
when the mid returns). ``start_volume`` is the window's volume at each step
start, the initial book of an episode starting there. Rows before
``start_time`` build the book without being replayed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from jaxmm.data.events import ASK, BID, MAX_RELATIVE_TICKS, EventKind, EventStream, event_rows
from jaxmm.data.exchange import MICROS_PER_SECOND
from jaxmm.data.fifo import FifoBook
from jaxmm.data.lobster import BUY as LOBSTER_BUY, PRICE_SCALE
from jaxmm.data.lobster_codes import EventType
from jaxmm.data.tables import as_frames
from jaxmm.data.validation import data_error, show

DEFAULT_HALF_WIDTH = 64
NOT_REPLAYED = -1  # message_event entry of a row before the window or skipped
# Step boundaries are computed on float seconds; a time this close below a boundary counts as on it.
STEP_TOLERANCE = 1e-9


def infer_tick(prices: np.ndarray) -> int:
    """The greatest common divisor of the integer price differences (1 when all prices are equal)."""
    prices = np.asarray(prices, dtype=np.int64)
    tick = int(np.gcd.reduce(np.abs(prices - prices[0]))) if len(prices) else 0
    return tick or 1


class _Builder:
    """Events per step from the rows of one file, with the host book that gives queue offsets."""

    def __init__(self, source: str, step_seconds: float, half_width: int, tick, price_origin,
                 start_time, end_time):
        if step_seconds <= 0:
            raise ValueError(f"step_seconds must be positive, got {step_seconds}")
        self.source, self.step_seconds, self.half_width = source, float(step_seconds), half_width
        self.tick, self.price_origin = tick, price_origin
        self.start_time, self.end_time = start_time, end_time
        self.book = FifoBook()
        self.rows: list[tuple] = []
        self.times: list[float] = []
        self.step_start: list[int] = []
        self.volume: list[np.ndarray] = []
        self.origin: list[int] = []
        self.mid: list[float] = []
        self.step = -1  # the step whose events are being collected (-1: before the window)
        self.window_origin = None
        self.last_mid = None
        self.skipped = 0

    @property
    def num_levels(self) -> int:
        return 2 * self.half_width

    # ------------------------------------------------------------ prices
    def ticks(self, prices: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Integer prices as ticks from the origin (origin and tick fixed by the first chunk)."""
        prices = np.asarray(prices, dtype=np.int64)
        if self.tick is None:
            self.tick = infer_tick(prices)
        if self.price_origin is None:
            self.price_origin = int(prices[0]) if len(prices) else 0
        scaled = (prices - int(self.price_origin)) / self.tick
        ticks = np.round(scaled).astype(np.int64)
        off_grid = ticks != scaled
        if off_grid.any():
            i = int(np.argmax(off_grid))
            raise data_error(self.source, f"price {show(prices[i])} at time {show(times[i])} is not on the tick grid "
                                          f"({show(self.tick)} from {show(self.price_origin)}); pass tick=")
        far = np.abs(ticks) >= MAX_RELATIVE_TICKS
        if far.any():
            i = int(np.argmax(far))
            raise data_error(self.source, f"price {show(prices[i])} at time {show(times[i])} is "
                                          f"{show(ticks[i])} ticks from the origin (at most {MAX_RELATIVE_TICKS})")
        return ticks

    # ------------------------------------------------------------ steps
    def mid_ticks(self) -> float | None:
        bid, ask = self.book.best(BID), self.book.best(ASK)
        if bid is not None and ask is not None:
            self.last_mid = 0.5 * (bid + ask)
        elif self.last_mid is None and (bid is not None or ask is not None):
            self.last_mid = float(bid if bid is not None else ask)
        return self.last_mid

    def window(self) -> np.ndarray:
        volume = np.zeros((2, self.num_levels), np.int32)
        for side in (BID, ASK):
            for price, units in self.book.levels(side).items():
                index = price - self.window_origin
                if 0 <= index < self.num_levels:
                    volume[side, index] = units
        return volume

    def open_step(self) -> None:
        """Step ``self.step + 1`` starts: note where its events begin and the book it starts from."""
        self.step += 1
        mid = self.mid_ticks()
        if self.window_origin is None:
            self.window_origin = int(round(mid if mid is not None else 0.0)) - self.half_width
        self.step_start.append(len(self.rows))
        self.volume.append(self.window())
        self.origin.append(self.window_origin)
        self.mid.append(np.nan if mid is None else mid)

    def close_step(self) -> None:
        """End of a step: re-centre the window on the mid, bring back the levels it takes in again."""
        mid = self.mid_ticks()
        if mid is None:
            return
        origin = int(round(mid)) - self.half_width
        if origin == self.window_origin:
            return
        old = (self.window_origin, self.window_origin + self.num_levels)
        self.add_row((EventKind.SHIFT, BID, origin, 0, 0), np.nan)
        for side in (BID, ASK):
            for price, units in sorted(self.book.levels(side).items()):
                if origin <= price < origin + self.num_levels and not old[0] <= price < old[1]:
                    self.add_row((EventKind.ADD, side, price, units, 0), np.nan)
        self.window_origin = origin

    def add_row(self, row: tuple, time: float) -> None:
        self.rows.append(row)
        self.times.append(time)

    def advance_to(self, time: float) -> bool:
        """Open the steps up to the one holding ``time``; False when ``time`` is past the window."""
        if self.start_time is None:
            self.start_time = math.floor(time / self.step_seconds + STEP_TOLERANCE) * self.step_seconds
        if self.end_time is not None and time >= self.end_time:
            return False
        if time < self.start_time:
            return True
        step = int(math.floor((time - self.start_time) / self.step_seconds + STEP_TOLERANCE))
        if self.step < 0:
            self.open_step()
        while self.step < step:
            self.close_step()
            self.open_step()
        return True

    def in_window(self, time: float) -> bool:
        return self.step >= 0 and time >= self.start_time

    def finish(self, informed=None) -> EventStream:
        if self.step < 0:
            raise data_error(self.source, "no rows inside the replay window")
        if self.end_time is not None:  # whole steps up to end_time
            last = int(math.ceil((self.end_time - self.start_time) / self.step_seconds - STEP_TOLERANCE)) - 1
            while self.step < last:
                self.close_step()
                self.open_step()
        self.close_step()
        self.step_start.append(len(self.rows))
        events = event_rows(*zip(*self.rows)) if self.rows else np.zeros((0, 5), np.int32)
        return EventStream(events=events, step_start=np.asarray(self.step_start, np.int64),
                           start_volume=np.stack(self.volume), start_origin=np.asarray(self.origin, np.int32),
                           start_mid=np.asarray(self.mid, np.float32), tick=float(self.tick),
                           price_origin=float(self.price_origin), step_seconds=self.step_seconds,
                           start_time=float(self.start_time), times=np.asarray(self.times, np.float64))


def lobster_stream(messages: pd.DataFrame | Iterable[pd.DataFrame], *, step_seconds: float = 1.0,
                   half_width: int = DEFAULT_HALF_WIDTH, tick: int | None = None, price_origin: int | None = None,
                   start_time: float | None = None, end_time: float | None = None,
                   source: str | Path = "<messages>") -> tuple[EventStream, np.ndarray]:
    """LOBSTER message frames (as :func:`jaxmm.data.lobster.read_lobster_messages` yields them) as events.

    Returns (stream, message_event): ``message_event[i]`` is the index of the event
    row of message ``i`` (:data:`NOT_REPLAYED` for rows outside the window and
    message types that do not change the visible book). Prices stay in LOBSTER's
    integer unit (``tick``, ``price_origin``). Every cancel, delete or execution must
    refer to an order submitted earlier in the data (read with ``unknown_orders="skip"``
    to drop those that do not).
    """
    builder = _Builder(str(source), step_seconds, half_width, tick, price_origin, start_time, end_time)
    book = builder.book
    message_event = []
    done = False
    for frame in as_frames(messages):
        if done:
            break
        times = frame["time"].to_numpy(np.float64)
        ticks = builder.ticks(frame["price"].to_numpy(), times)
        for time, kind, order_id, size, price, direction in zip(
                times.tolist(), frame["event_type"].tolist(), frame["order_id"].tolist(),
                frame["size"].tolist(), ticks.tolist(), frame["direction"].tolist()):
            if not builder.advance_to(time):
                done = True
                break
            replayed = builder.in_window(time)
            row = None
            if kind == EventType.SUBMIT:
                side = BID if direction == LOBSTER_BUY else ASK
                book.add(side, price, size, order_id)
                row = (EventKind.ADD, side, price, size, 0)
            elif kind in (EventType.PARTIAL_CANCEL, EventType.DELETE, EventType.EXECUTE_VISIBLE):
                side, level, offset, remaining = book.locate(order_id)
                units = remaining if kind == EventType.DELETE else size
                book.reduce(order_id, units)
                event = EventKind.EXECUTE if kind == EventType.EXECUTE_VISIBLE else EventKind.REMOVE
                row = (event, side, level, units, offset)
            if row is not None and replayed:
                message_event.append(len(builder.rows))
                builder.add_row(row, time)
            else:
                message_event.append(NOT_REPLAYED)
    stream = builder.finish()
    stream.price_scale = float(PRICE_SCALE)
    return stream, np.asarray(message_event, np.int64)


L2_AMOUNT_DECIMALS = 8  # amounts and prices are compared on this decimal grid when lots and ticks are inferred


def _grid_step(values: np.ndarray) -> float:
    """The largest step (on a 10^-8 grid) that every value is a whole multiple of, from the first value."""
    scaled = np.round(np.asarray(values, np.float64) * 10 ** L2_AMOUNT_DECIMALS).astype(np.int64)
    step = int(np.gcd.reduce(np.abs(scaled - scaled[0]))) if len(scaled) else 0
    return (step or 10 ** L2_AMOUNT_DECIMALS) / 10 ** L2_AMOUNT_DECIMALS


def _merged_rows(l2_frames, trade_frames, time_column: str):
    """(micros, is_trade, side, price, amount, is_snapshot) of both files in time order, trades first
    at equal times (a vendor writes the level update that a trade caused with the trade's time)."""
    l2 = pd.concat(list(as_frames(l2_frames)), ignore_index=True)
    trades = pd.concat(list(as_frames(trade_frames)), ignore_index=True) if trade_frames is not None else None
    parts = [pd.DataFrame({"micros": l2[time_column].to_numpy(np.int64), "trade": False,
                           "side": np.where(l2["side"].to_numpy() == "bid", BID, ASK),
                           "price": l2["price"].to_numpy(np.float64), "amount": l2["amount"].to_numpy(np.float64),
                           "snapshot": l2["is_snapshot"].to_numpy(bool)})]
    if trades is not None and len(trades):
        parts.append(pd.DataFrame({"micros": trades[time_column].to_numpy(np.int64), "trade": True,
                                   # the resting side: a buyer takes asks
                                   "side": np.where(trades["side"].to_numpy() == "buy", ASK, BID),
                                   "price": trades["price"].to_numpy(np.float64),
                                   "amount": trades["amount"].to_numpy(np.float64), "snapshot": False}))
    rows = pd.concat(parts, ignore_index=True)
    order = np.lexsort((~rows["trade"].to_numpy(), rows["micros"].to_numpy()))
    return rows.iloc[order].reset_index(drop=True)


def l2_stream(l2_frames: pd.DataFrame | Iterable[pd.DataFrame],
              trade_frames: pd.DataFrame | Iterable[pd.DataFrame] | None = None, *, step_seconds: float = 1.0,
              half_width: int = DEFAULT_HALF_WIDTH, tick: float | None = None, lot: float | None = None,
              start_time: float | None = None, end_time: float | None = None,
              time_column: str = "local_timestamp", source: str | Path = "<l2>") -> EventStream:
    """Incremental L2 updates (and the trades of the same market) as events.

    A trade (``jaxmm.data.exchange.read_trades``) is an ``EXECUTE`` of its amount at the front
    of the level it hit (clipped to the level); an update is compared with the level as the
    rows before it left it: more is an ``ADD`` at the back, less a ``CANCEL_L2``. A run of
    snapshot rows sets the book afresh (levels it does not name are cancelled). Amounts become
    whole units of ``lot`` and prices ticks of ``tick`` from the first price (both inferred
    from the data when not given). Times are seconds since the epoch.
    """
    rows = _merged_rows(l2_frames, trade_frames, time_column)
    if not len(rows):
        raise data_error(source, "no rows")
    prices, amounts = rows["price"].to_numpy(), rows["amount"].to_numpy()
    tick = _grid_step(prices) if tick is None else float(tick)
    lot = _grid_step(np.concatenate(([0.0], amounts))) if lot is None else float(lot)
    origin = float(prices[0])
    ticks_float = (prices - origin) / tick
    ticks = np.round(ticks_float).astype(np.int64)
    units_float = amounts / lot
    units = np.round(units_float).astype(np.int64)
    micros = rows["micros"].to_numpy()
    base = int(micros[0])
    seconds = (micros - base) / MICROS_PER_SECOND
    for name, scaled, whole, step in (("price", ticks_float, ticks, tick), ("amount", units_float, units, lot)):
        bad = np.abs(scaled - whole) > 1e-6
        if bad.any():
            i = int(np.argmax(bad))
            raise data_error(source, f"{name} {show(rows[name].iloc[i])} at {time_column} {micros[i]} is not a "
                                     f"whole multiple of {show(step)}; pass {'tick' if name == 'price' else 'lot'}=")
    relative_start = None if start_time is None else start_time - base / MICROS_PER_SECOND
    relative_end = None if end_time is None else end_time - base / MICROS_PER_SECOND
    builder = _Builder(str(source), step_seconds, half_width, 1, 0, relative_start, relative_end)
    if relative_start is None:  # whole steps of the epoch clock
        first = base / MICROS_PER_SECOND
        builder.start_time = math.floor(first / step_seconds + STEP_TOLERANCE) * step_seconds - first
    levels = builder.book  # one synthetic order per level: (side, price) -> units, order id = key
    in_snapshot, named = False, set()

    def level_id(side, price):
        return (side, price)

    def set_level(side, price, amount, time, replayed):
        current = levels.total(side, price)
        if amount > current:
            if current:
                levels.reduce(level_id(side, price), current)
            levels.add(side, price, amount, level_id(side, price))
            row = (EventKind.ADD, side, price, amount - current, 0)
        elif amount < current:
            levels.reduce(level_id(side, price), current - amount)
            row = (EventKind.CANCEL_L2, side, price, current - amount, 0)
        else:
            return
        if replayed:
            builder.add_row(row, time)

    for time, trade, side, price, amount, snapshot in zip(
            seconds.tolist(), rows["trade"].tolist(), rows["side"].tolist(), ticks.tolist(), units.tolist(),
            rows["snapshot"].tolist()):
        if not builder.advance_to(time):
            break
        replayed = builder.in_window(time)
        if in_snapshot and not snapshot:
            for other_side in (BID, ASK):
                for other_price in list(levels.levels(other_side)):
                    if (other_side, other_price) not in named:
                        set_level(other_side, other_price, 0, time, replayed)
        if snapshot and not in_snapshot:
            named = set()
        in_snapshot = snapshot
        if trade:
            executed = min(amount, levels.total(side, price))
            if executed:
                levels.reduce(level_id(side, price), executed)
                if replayed:
                    builder.add_row((EventKind.EXECUTE, side, price, executed, 0), time)
            continue
        if snapshot:
            named.add((side, price))
        set_level(side, price, amount, time, replayed)
    stream = builder.finish()
    offset = base / MICROS_PER_SECOND
    stream.start_time += offset
    stream.times = stream.times + offset
    stream.tick, stream.price_origin = tick, origin
    stream.size_unit = lot
    return stream
