"""Order-book and trade features over plain arrays, one code path for recorded data and the simulator.

Book inputs are arrays of shape (T, levels), level 0 the best (a (T,) array
is read as the top level only); empty levels have NaN price and size 0 or NaN
(:func:`jaxmm.data.book.book_arrays` builds them from a snapshot frame; the
simulator's book arrays go in as they are). Trade inputs are 1-D arrays, one
entry per trade, with the aggressor's side as +1 (buy) / -1 (sell)
(:func:`aggressor_sign` converts ``"buy"``/``"sell"``). Times are seconds.
Everything is vectorised numpy; undefined values (empty book, too little
history) are NaN.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

BUY_SIGN = 1
SELL_SIGN = -1
UNIT_ROWS = "rows"
UNIT_SECONDS = "seconds"


def _float(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _top(values) -> np.ndarray:
    values = _float(values)
    return values[:, 0] if values.ndim == 2 else values


def _sizes(values, levels: int | None = None) -> np.ndarray:
    """Sizes as (T, levels) with empty levels 0, cut to the first ``levels``."""
    values = np.nan_to_num(_float(values), nan=0.0)
    values = values[:, None] if values.ndim == 1 else values
    return values if levels is None else values[:, :levels]


def aggressor_sign(side) -> np.ndarray:
    """+1 for ``"buy"``, -1 for ``"sell"``, 0 otherwise; numeric input is returned as its sign."""
    side = np.asarray(side)
    if side.dtype.kind in "iuf":
        return np.sign(side).astype(np.int64)
    return np.where(side == "buy", BUY_SIGN, np.where(side == "sell", SELL_SIGN, 0))


def mid_price(bid_price, ask_price) -> np.ndarray:
    """(best bid + best ask) / 2, shape (T,)."""
    return (_top(bid_price) + _top(ask_price)) / 2


def spread(bid_price, ask_price) -> np.ndarray:
    """Best ask - best bid, shape (T,)."""
    return _top(ask_price) - _top(bid_price)


def microprice(bid_price, bid_size, ask_price, ask_size) -> np.ndarray:
    """Size-weighted mid ``(bid * ask_size + ask * bid_size) / (bid_size + ask_size)`` at the top, shape (T,)."""
    bid, ask = _top(bid_price), _top(ask_price)
    bid_size, ask_size = _sizes(bid_size)[:, 0], _sizes(ask_size)[:, 0]
    total = bid_size + ask_size
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (bid * ask_size + ask * bid_size) / total, np.nan)


def depth(size, *, levels: int | None = None, cumulative: bool = False) -> np.ndarray:
    """Size per level, shape (T, levels), empty levels 0; ``cumulative`` sums from the best level down."""
    sizes = _sizes(size, levels)
    return np.cumsum(sizes, axis=1) if cumulative else sizes


def imbalance(bid_size, ask_size, *, levels: int = 1) -> np.ndarray:
    """Order-book imbalance ``(bid - ask) / (bid + ask)`` of the sizes over the first ``levels``, in [-1, 1]."""
    bid, ask = _sizes(bid_size, levels).sum(axis=1), _sizes(ask_size, levels).sum(axis=1)
    total = bid + ask
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (bid - ask) / total, np.nan)


def log_returns(price) -> np.ndarray:
    """``log(p[t] / p[t-1])``, shape (T,), NaN at t = 0."""
    log_price = np.log(_float(price))
    return np.concatenate(([np.nan], np.diff(log_price)))


def _window_sum(values: np.ndarray, window: int) -> np.ndarray:
    """Sum of each run of ``window`` consecutive entries ending at t; NaN before a full window or over a NaN."""
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    invalid = np.isnan(values)
    total = np.concatenate(([0.0], np.cumsum(np.where(invalid, 0.0, values))))
    bad = np.concatenate(([0], np.cumsum(invalid)))
    out = np.full(len(values), np.nan)
    if len(values) >= window:
        sums = total[window:] - total[:-window]
        clean = (bad[window:] - bad[:-window]) == 0
        out[window - 1:] = np.where(clean, sums, np.nan)
    return out


def realized_volatility(mid, window: int) -> np.ndarray:
    """``sqrt(sum of squared log-returns of the mid over the last window returns)`` at each t, shape (T,).

    NaN until ``window`` returns exist (t < window) and wherever the window
    holds an undefined mid.
    """
    return np.sqrt(_window_sum(log_returns(mid) ** 2, window))


def trade_flow_imbalance(side, size, window: int) -> np.ndarray:
    """``(buy volume - sell volume) / total volume`` over the last ``window`` trades, shape (N,)."""
    signed = aggressor_sign(side) * _float(size)
    total = _window_sum(np.abs(signed), window)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, _window_sum(signed, window) / total, np.nan)


class ArrivalRates(NamedTuple):
    """Market orders per second in consecutive bins starting at ``bin_start`` (seconds)."""

    bin_start: np.ndarray
    buy: np.ndarray
    sell: np.ndarray


def arrival_rates(time, side, bin_seconds: float, *, start: float | None = None,
                  end: float | None = None) -> ArrivalRates:
    """Buy and sell market-order arrival rates (orders per second) in bins of ``bin_seconds``.

    Bins start at ``start`` and cover up to ``end`` included (defaults: the
    first and last trade); the rate of a bin is its count / ``bin_seconds``.
    Trades outside ``[start, end]`` are not counted.
    """
    if bin_seconds <= 0:
        raise ValueError(f"bin_seconds must be positive, got {bin_seconds}")
    time, sign = _float(time), aggressor_sign(side)
    start = float(time.min()) if start is None else start
    end = float(time.max()) if end is None else end
    bins = max(int(np.ceil((end - start) / bin_seconds)), 1)
    inside = (time >= start) & (time <= end)
    index = np.clip(np.floor((time[inside] - start) / bin_seconds).astype(np.int64), 0, bins - 1)
    counts = {s: np.bincount(index[sign[inside] == s], minlength=bins) for s in (BUY_SIGN, SELL_SIGN)}
    return ArrivalRates(start + bin_seconds * np.arange(bins), counts[BUY_SIGN] / bin_seconds,
                        counts[SELL_SIGN] / bin_seconds)


class SizeDistribution(NamedTuple):
    """Empirical distribution of trade sizes: probability of each bin ``[edges[i], edges[i+1])``."""

    edges: np.ndarray
    probability: np.ndarray
    mean: float


def size_distribution(size, bins: int | np.ndarray) -> SizeDistribution:
    """Histogram of trade sizes normalised to probabilities (``bins``: a count or the edges), and the mean."""
    size = _float(size)
    counts, edges = np.histogram(size, bins=bins)
    total = counts.sum()
    probability = counts / total if total else np.zeros(len(counts))
    return SizeDistribution(edges, probability, float(size.mean()) if len(size) else float("nan"))


def markouts(trade_time, trade_price, trade_side, book_time, mid, horizon: float, *,
             unit: str = UNIT_SECONDS) -> np.ndarray:
    """Markout of each trade for its aggressor: ``side * (mid after the horizon - trade price)``.

    The book row of a trade is the last one with ``book_time <= trade_time``.
    With ``unit="rows"`` the mid is taken ``horizon`` book rows after that
    row; with ``"seconds"``, at the last book row at or before
    ``trade_time + horizon``. NaN for trades before the first book row or
    whose horizon runs past the last one. ``book_time`` must not decrease.
    """
    trade_time, book_time, mid = _float(trade_time), _float(book_time), _float(mid)
    own_row = np.searchsorted(book_time, trade_time, side="right") - 1
    if unit == UNIT_ROWS:
        row = own_row + int(horizon)
        beyond = row >= len(book_time)
    elif unit == UNIT_SECONDS:
        target = trade_time + horizon
        row = np.searchsorted(book_time, target, side="right") - 1
        beyond = target > book_time[-1] if len(book_time) else np.ones(len(trade_time), dtype=bool)
    else:
        raise ValueError(f"unit must be {UNIT_ROWS!r} or {UNIT_SECONDS!r}, got {unit!r}")
    valid = (own_row >= 0) & ~beyond
    later_mid = mid[np.clip(row, 0, max(len(mid) - 1, 0))] if len(mid) else np.full(len(trade_time), np.nan)
    return np.where(valid, aggressor_sign(trade_side) * (later_mid - _float(trade_price)), np.nan)
