"""What calibration measures in a market: one host pass over an :class:`~jaxmm.data.events.EventStream`.

The same function reads a recorded stream (LOBSTER or L2, :mod:`jaxmm.data.streams`) and a
simulated one (:mod:`jaxmm.data.recorder`), so the calibration report compares like with like.
The pass rebuilds the book window as the replay does and collects, with every price in ticks of
the stream:

* per step start: the mid and the resting volume by whole-tick distance from the mid;
* limit orders (``ADD`` rows of the flow, with the opposite side non-empty): side, distance
  from the opposite best price, size;
* cancellations (``REMOVE`` / ``CANCEL_L2``): side, distance from the mid, units. In recorded
  data the messages of one cancellation share a time, side and price and count once;
* aggressors (``TAKE`` rows, or ``EXECUTE`` rows sharing a time and side): side (+1 buys),
  units, notional (ticks x units), worst price reached, mid and opposite best before.

Rows the builders add (window shifts and the levels they bring back, time NaN) move the book
but are not flow.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from jaxmm.data.events import ASK, BID, KIND, PRICE, SIDE, SIZE, EventKind, EventStream

MAX_FEATURE_DISTANCE = 64  # resting volume is binned by whole ticks from the mid up to this
BUY_SIGN, SELL_SIGN = 1, -1


@dataclasses.dataclass
class MarketFeatures:
    """Flow and book measurements of one stream (ticks, steps; see the module docstring)."""

    steps: int
    step_seconds: float
    tick: float  # currency per tick
    reference_price: float  # currency price of tick 0
    mid: np.ndarray  # float64 (steps + 1,), ticks: each step start, then the end
    spread: np.ndarray  # float64 (steps,), ticks at each step start (NaN with a side empty)
    resting: np.ndarray  # int64 (steps, 2, MAX_FEATURE_DISTANCE)
    limits: dict[str, np.ndarray]  # step, side, distance, size
    cancels: dict[str, np.ndarray]  # step, side, distance, size
    aggressors: dict[str, np.ndarray]  # step, side, size, notional, worst, mid, best

    @property
    def duration_seconds(self) -> float:
        return self.steps * self.step_seconds

    def reach(self) -> np.ndarray:
        """How far each aggressor reached beyond the mid, in ticks."""
        a = self.aggressors
        return a["side"] * (a["worst"] - a["mid"])

    def markouts(self, horizon_steps: int) -> np.ndarray:
        """``side * (mid horizon steps after the aggressor's step - its average price)`` in ticks;
        aggressors whose horizon runs past the stream are left out."""
        a = self.aggressors
        later = a["step"] + 1 + horizon_steps
        keep = later <= self.steps
        price = a["notional"][keep] / a["size"][keep]
        return a["side"][keep] * (self.mid[later[keep]] - price)

    def window(self, start: int, end: int) -> "MarketFeatures":
        """The features of steps ``start:end`` (the book before ``start`` as the full pass built it)."""
        def cut(table):
            keep = (table["step"] >= start) & (table["step"] < end)
            out = {name: column[keep] for name, column in table.items()}
            out["step"] = out["step"] - start
            return out

        return dataclasses.replace(self, steps=end - start, mid=self.mid[start:end + 1],
                                   spread=self.spread[start:end], resting=self.resting[start:end],
                                   limits=cut(self.limits), cancels=cut(self.cancels),
                                   aggressors=cut(self.aggressors))

    def arrivals(self) -> np.ndarray:
        """bool (steps, 2): an aggressor bought (column 0) / sold (column 1) during the step."""
        out = np.zeros((self.steps, 2), bool)
        a = self.aggressors
        out[a["step"], np.where(a["side"] == BUY_SIGN, 0, 1)] = True
        return out


class _Window:
    """The book window of the replay, on the host."""

    def __init__(self, volume: np.ndarray, origin: int):
        self.volume = volume.astype(np.int64).copy()
        self.origin = int(origin)
        self.last_mid = None

    def best(self, side: int):
        occupied = np.flatnonzero(self.volume[side])
        if not len(occupied):
            return None
        return self.origin + int(occupied[-1] if side == BID else occupied[0])

    def mid(self) -> float:
        bid, ask = self.best(BID), self.best(ASK)
        if bid is not None and ask is not None:
            self.last_mid = 0.5 * (bid + ask)
        return self.last_mid if self.last_mid is not None else float("nan")

    def change(self, side: int, price: int, units: int) -> int:
        """Add ``units`` (negative: remove, clipped at what rests) at ``price``; returns the change made."""
        index = price - self.origin
        if not 0 <= index < self.volume.shape[1]:
            return 0
        units = max(units, -int(self.volume[side, index]))
        self.volume[side, index] += units
        return units

    def shift(self, origin: int) -> None:
        moved = np.zeros_like(self.volume)
        delta = origin - self.origin
        width = self.volume.shape[1]
        src = np.arange(width) + delta
        inside = (src >= 0) & (src < width)
        moved[:, inside] = self.volume[:, src[inside]]
        self.volume, self.origin = moved, int(origin)

    def take(self, side: int, size: int, limit: int):
        """An aggressor on ``side`` walks the opposite side; returns (units, notional, worst price)."""
        resting = 1 - side
        prices = self.origin + np.arange(self.volume.shape[1])
        order = np.arange(self.volume.shape[1])
        order = order if resting == ASK else order[::-1]
        eligible = prices[order] <= limit if side == BID else prices[order] >= limit
        volume = np.where(eligible, self.volume[resting, order], 0)
        before = np.cumsum(volume) - volume
        taken = np.clip(size - before, 0, volume)
        self.volume[resting, order] -= taken
        hit = np.flatnonzero(taken)
        worst = int(prices[order][hit[-1]]) if len(hit) else None
        return int(taken.sum()), int((taken * prices[order]).sum()), worst

    def resting_by_distance(self, mid: float) -> np.ndarray:
        out = np.zeros((2, MAX_FEATURE_DISTANCE), np.int64)
        if math.isnan(mid):
            return out
        prices = self.origin + np.arange(self.volume.shape[1])
        for side, distance in ((BID, mid - prices), (ASK, prices - mid)):
            bins = np.floor(distance).astype(np.int64)
            keep = (bins >= 0) & (bins < MAX_FEATURE_DISTANCE) & (self.volume[side] > 0)
            np.add.at(out[side], bins[keep], self.volume[side, keep])
        return out


def market_features(stream: EventStream) -> MarketFeatures:
    """One pass over ``stream``'s steps collecting :class:`MarketFeatures`."""
    window = _Window(stream.start_volume[0], stream.start_origin[0])
    has_times = len(stream.times) == len(stream.events)
    times = stream.times if has_times else np.arange(len(stream.events), dtype=np.float64)
    limits, cancels, aggressors = ([] for _ in range(3))
    mids, spreads, resting = [], [], []
    group = None  # (key, record) of the cancellation or execution being gathered

    def close():
        nonlocal group
        if group is not None:
            (kind, *_), record = group
            (aggressors if kind == EventKind.EXECUTE else cancels).append(record)
        group = None

    for step in range(stream.num_steps):
        close()
        mid = window.mid()
        mids.append(mid)
        bid, ask = window.best(BID), window.best(ASK)
        spreads.append(np.nan if bid is None or ask is None else ask - bid)
        resting.append(window.resting_by_distance(mid))
        start, end = int(stream.step_start[step]), int(stream.step_start[step + 1])
        for index in range(start, end):
            row = stream.events[index]
            kind, side, price, size = int(row[KIND]), int(row[SIDE]), int(row[PRICE]), int(row[SIZE])
            time = times[index]
            flow = not math.isnan(time)
            if kind == EventKind.SHIFT:
                close()
                window.shift(price)
                continue
            if kind == EventKind.ADD:
                close()
                opposite = window.best(1 - side)
                if flow and opposite is not None:
                    limits.append((step, side, opposite - price if side == BID else price - opposite, size))
                window.change(side, price, size)
            elif kind in (EventKind.REMOVE, EventKind.CANCEL_L2):
                key = (EventKind.REMOVE, time, side, price)
                if not (has_times and group is not None and group[0] == key):
                    close()
                    distance = abs(price - window.mid())
                    group = (key, [step, side, distance, 0])
                group[1][3] += -window.change(side, price, -size)
                if not (has_times and flow):
                    close()
            elif kind == EventKind.EXECUTE:
                key = (EventKind.EXECUTE, time, side)
                aggressor = 1 - side
                if not (group is not None and group[0] == key):
                    close()
                    best = window.best(side)
                    group = (key, [step, BUY_SIGN if aggressor == BID else SELL_SIGN, 0, 0, price,
                                   window.mid(), np.nan if best is None else best])
                removed = -window.change(side, price, -size)
                record = group[1]
                record[2] += removed
                record[3] += removed * price
                record[4] = price
            elif kind == EventKind.TAKE:
                close()
                best, mid = window.best(1 - side), window.mid()
                units, notional, worst = window.take(side, size, price)
                if units:
                    aggressors.append([step, BUY_SIGN if side == BID else SELL_SIGN, units, notional, worst, mid,
                                       np.nan if best is None else best])
            del row
    close()
    mids.append(window.mid())
    columns = {"limits": ("step", "side", "distance", "size"), "cancels": ("step", "side", "distance", "size"),
               "aggressors": ("step", "side", "size", "notional", "worst", "mid", "best")}

    def table(rows, names):
        array = np.asarray(rows, np.float64).reshape(-1, len(names))
        out = {name: array[:, i] for i, name in enumerate(names)}
        for name in ("step", "side", "size"):
            if name in out:
                out[name] = out[name].astype(np.int64)
        return out

    features = MarketFeatures(
        steps=stream.num_steps, step_seconds=stream.step_seconds, tick=stream.tick / stream.price_scale,
        reference_price=stream.price_origin / stream.price_scale, mid=np.asarray(mids, np.float64),
        spread=np.asarray(spreads, np.float64), resting=np.stack(resting) if resting else
        np.zeros((0, 2, MAX_FEATURE_DISTANCE), np.int64),
        limits=table(limits, columns["limits"]), cancels=table(cancels, columns["cancels"]),
        aggressors=table(aggressors, columns["aggressors"]))
    for name in ("distance",):
        features.limits[name] = features.limits[name].astype(np.int64)
    return features
