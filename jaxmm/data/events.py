"""Book events as integer arrays: what the replay environment consumes and what the exporters write.

One event is a row of :data:`EVENT_FIELDS` int32 values ``(kind, side, price,
size, offset)``:

* ``ADD``: a limit order of ``size`` joins the back of the queue at ``price``
  on ``side`` (``BID`` / ``ASK``, the side of the resting order).
* ``REMOVE``: ``size`` resting units leave ``price`` starting ``offset`` units
  from the front of its queue (a cancellation or a deletion; the queue
  position comes from the order ids of a LOBSTER file, or from the simulator).
* ``EXECUTE``: a recorded execution of ``size`` resting units at ``offset``
  (LOBSTER event type 4; the aggressor is on the other side). Replayed
  without market impact: the recorded volume leaves, and the agent's order
  is filled by what the aggressor traded past its queue position.
* ``TAKE``: an aggressor order on ``side`` (the side that takes: ``BID`` buys)
  walking the book for ``size`` units up to the limit ``price``; it trades
  with the agent's resting order in its FIFO turn, exactly as the simulator's
  market and informed orders do.
* ``SHIFT``: the book window moves; ``price`` is its new origin.
* ``CANCEL_L2``: an L2 level shrank by ``size`` units not explained by trades;
  where in the queue is unknown and the replay's queue model decides.

Prices are ticks relative to a price origin (``EventStream.price_origin``,
in the data's own price unit): recorded prices are large integers (LOBSTER:
dollars x 10,000), and the book keeps ticks and notionals in int32, so the
data side always subtracts the origin before anything reaches the device.
Steps: events are grouped by replay step; step ``k``'s events are rows
``step_start[k]:step_start[k + 1]``.
"""

from __future__ import annotations

import dataclasses
from enum import IntEnum

import numpy as np

BID = 0
ASK = 1
SIDES = (BID, ASK)
EVENT_FIELDS = ("kind", "side", "price", "size", "offset")
KIND, SIDE, PRICE, SIZE, OFFSET = range(len(EVENT_FIELDS))
# Largest |tick| relative to the origin the data side accepts: ticks times units (notionals)
# then stay far below 2^31 for any level volume the book can hold.
MAX_RELATIVE_TICKS = 2 ** 20


class EventKind(IntEnum):
    """What one event row does to the book (see the module docstring)."""

    ADD = 0
    REMOVE = 1
    EXECUTE = 2
    TAKE = 3
    SHIFT = 4
    CANCEL_L2 = 5


def event_rows(kind, side, price, size, offset=0) -> np.ndarray:
    """Stack equal-length columns (or scalars) into an int32 (N, 5) event array."""
    columns = np.broadcast_arrays(*(np.asarray(x, dtype=np.int64) for x in (kind, side, price, size, offset)))
    return np.stack(columns, axis=-1).astype(np.int32).reshape(-1, len(EVENT_FIELDS))


@dataclasses.dataclass
class EventStream:
    """A recorded market as book events grouped into replay steps, with the book at each step start.

    ``events`` int32 (N, 5); ``step_start`` int64 (S + 1,): step ``k`` is rows
    ``step_start[k]:step_start[k+1]``; ``start_volume`` int32 (S, 2, P), the
    background volume of the book window at the start of each step, window
    origin ``start_origin`` int32 (S,) and mid ``start_mid`` float32 (S,)
    (ticks); ``tick`` and ``price_origin`` map ticks back to the data's prices
    (``price = price_origin + tick * ticks``); ``step_seconds`` and
    ``start_time`` (seconds, the data's clock) place the steps in time.
    ``informed`` marks simulator TAKE events of informed traders (empty for data);
    ``times`` holds each row's time in seconds for data streams (NaN for the rows the
    builder adds: window shifts and the levels they bring back), empty for simulator
    streams, whose rows are one event each. ``price_scale`` is the data's price units per
    currency unit (LOBSTER: 10,000) and ``size_unit`` the data amount of one book unit.
    """

    events: np.ndarray
    step_start: np.ndarray
    start_volume: np.ndarray
    start_origin: np.ndarray
    start_mid: np.ndarray
    tick: float = 1.0
    price_origin: float = 0.0
    step_seconds: float = 1.0
    start_time: float = 0.0
    informed: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, bool))
    times: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.float64))
    price_scale: float = 1.0  # data price units per currency unit (LOBSTER: 10,000)
    size_unit: float = 1.0  # data amount per book unit (the lot)

    @property
    def num_steps(self) -> int:
        return len(self.step_start) - 1

    @property
    def num_levels(self) -> int:
        return self.start_volume.shape[-1]

    def step_events(self, step: int) -> np.ndarray:
        """The event rows of one step."""
        return self.events[self.step_start[step]:self.step_start[step + 1]]

    def prices(self, ticks) -> np.ndarray:
        """Ticks relative to the origin as prices in the data's unit."""
        return self.price_origin + self.tick * np.asarray(ticks, dtype=np.float64)
