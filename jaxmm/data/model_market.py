"""A market with the model environment's dynamics, as book events: known (sigma, drift, A, k) in data.

The model environment (``jaxmm/envs/model.py``) has a Brownian mid with drift
and, per side, market orders arriving at rate ``A`` whose reach is such that a
quote at depth ``delta`` from the mid fills with probability ``exp(-k delta)``.
:func:`simulate_model_events` lays that market on a tick grid:

* the latent mid ``x`` moves by ``drift * dt + volatility * sqrt(dt) * Z`` per
  step; the book is centred on the half tick nearest ``x`` (one-tick spread),
  ``depth`` levels a side of ``level_volume`` units each;
* a Poisson(``A * dt``) number of market orders per side and step, each
  reaching ``D ~ Exponential(k)`` price units from the mid: it takes every
  level whose depth ``(j + 1/2) * tick`` is within ``D``, all of them but the
  last in full and one unit of the last, so its worst price marks its reach
  (an order reaching less than half a tick trades nothing); the levels it
  emptied are refilled at once;
* when the book's centre moves, levels that leave the book are deleted and new
  ones submitted.

The probability that an order reaches depth ``(j + 1/2) * tick`` is exactly
``exp(-k (j + 1/2) tick)``, so the trade-through distances of the data give
``A`` and ``k`` back, and the mid gives ``sigma`` and the drift.
"""

from __future__ import annotations

import math

import numpy as np

from jaxmm.data.events import ASK, BID, EventKind, EventStream, event_rows

DEFAULT_DEPTH = 12
DEFAULT_LEVEL_VOLUME = 5


def _levels(centre: int, depth: int) -> dict[tuple[int, int], None]:
    """(side, tick) of every level of a book centred at ``centre + 1/2`` ticks."""
    levels = {(ASK, centre + 1 + j): None for j in range(depth)}
    levels.update({(BID, centre - j): None for j in range(depth)})
    return levels


def simulate_model_events(*, volatility: float, drift: float, arrival_rate: float, fill_decay: float,
                          tick: float, steps: int, step_seconds: float = 1.0, seed: int = 0,
                          price_origin: float = 100.0, depth: int = DEFAULT_DEPTH,
                          level_volume: int = DEFAULT_LEVEL_VOLUME) -> EventStream:
    """``steps`` steps of the model market (price units and seconds; ``tick`` in price units).

    Ticks are relative to ``price_origin``; the window of the returned stream spans the
    whole book (``4 * depth`` ticks around the start), so nothing is shifted.
    """
    rng = np.random.default_rng(seed)
    dt = float(step_seconds)
    x = 0.5  # latent mid in ticks; the book centre is the half tick nearest to it
    centre = 0
    rows: list[tuple] = []
    step_start = []
    half_width = 2 * depth
    window = 2 * half_width
    volume0 = np.zeros((2, window), np.int32)
    origin0 = centre - half_width
    for side, price in _levels(centre, depth):
        volume0[side, price - origin0] = level_volume
    reach_scale = 1.0 / (fill_decay * tick)  # mean reach in ticks
    for _ in range(steps):
        step_start.append(len(rows))
        for side in (BID, ASK):  # the aggressor: BID buys (takes asks)
            for _ in range(rng.poisson(arrival_rate * dt)):
                reach = rng.exponential(reach_scale)
                levels = min(int(math.floor(reach - 0.5)) + 1, depth) if reach >= 0.5 else 0
                if not levels:
                    continue
                direction = 1 if side == BID else -1
                best = centre + 1 if side == BID else centre
                last = best + direction * (levels - 1)
                rows.append((EventKind.TAKE, side, last, level_volume * (levels - 1) + 1, 0))
                resting = 1 - side
                for j in range(levels - 1):
                    rows.append((EventKind.ADD, resting, best + direction * j, level_volume, 0))
                rows.append((EventKind.ADD, resting, last, 1, 0))
        x += (drift * dt + volatility * math.sqrt(dt) * rng.standard_normal()) / tick
        moved = int(math.floor(x))
        if moved != centre:
            old, new = _levels(centre, depth), _levels(moved, depth)
            for side, price in old:
                if (side, price) not in new:
                    rows.append((EventKind.REMOVE, side, price, level_volume, 0))
            for side, price in sorted(new, key=lambda level: (level[0], level[1])):
                if (side, price) not in old:
                    rows.append((EventKind.ADD, side, price, level_volume, 0))
            centre = moved
    step_start.append(len(rows))
    events = event_rows(*zip(*rows)) if rows else np.zeros((0, 5), np.int32)
    volume = np.broadcast_to(volume0, (steps, 2, window)).copy()  # only the first step's book is exact
    return EventStream(events=events, step_start=np.asarray(step_start, np.int64), start_volume=volume,
                       start_origin=np.full(steps, origin0, np.int32), start_mid=np.full(steps, 0.5, np.float32),
                       tick=float(tick), price_origin=float(price_origin), step_seconds=dt)
