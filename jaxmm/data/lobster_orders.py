"""Live-order bookkeeping for LOBSTER messages: every cancel, delete or execution refers to a live order.

Only live orders are remembered (id -> remaining visible size), so memory is
bounded by the orders resting in the book, not by the length of the file.
"""

from __future__ import annotations

import numpy as np

from jaxmm.data.lobster_codes import EVENT_NAMES, EventType
from jaxmm.data.validation import Rows, show

UNKNOWN_ORDERS_ERROR = "error"
UNKNOWN_ORDERS_SKIP = "skip"
UNKNOWN_ORDER_POLICIES = (UNKNOWN_ORDERS_ERROR, UNKNOWN_ORDERS_SKIP)
TRACKED_EVENTS = (EventType.SUBMIT, EventType.PARTIAL_CANCEL, EventType.DELETE, EventType.EXECUTE_VISIBLE)


class OrderTracker:
    """Remaining visible size of each live order, across the chunks of one message file.

    ``unknown_orders="error"`` raises on a reference to an order that is not
    live; ``"skip"`` marks such rows for the caller to count and leave out
    (real LOBSTER files start with orders submitted before the file begins).
    """

    def __init__(self, unknown_orders: str):
        self.skip_unknown = unknown_orders == UNKNOWN_ORDERS_SKIP
        self.skip_reason = f"order not live in this file (unknown_orders={UNKNOWN_ORDERS_SKIP!r})"
        self._remaining: dict[int, int] = {}

    @property
    def live_orders(self) -> int:
        """Number of orders resting after the rows applied so far."""
        return len(self._remaining)

    def apply(self, event: np.ndarray, order_id: np.ndarray, size: np.ndarray, rows: Rows,
              active: np.ndarray) -> np.ndarray:
        """Apply the ``active`` rows of one chunk in order; returns the mask of rows skipped as unknown."""
        unknown = np.zeros(len(event), dtype=bool)
        selected = np.flatnonzero(active & np.isin(event, TRACKED_EVENTS))
        remaining = self._remaining
        for index, kind, order, quantity in zip(selected.tolist(), event[selected].tolist(),
                                                 order_id[selected].tolist(), size[selected].tolist()):
            if kind == EventType.SUBMIT:
                if order in remaining:
                    raise rows.error(index, f"order id {order} submitted while already live")
                remaining[order] = quantity
                continue
            left = remaining.get(order)
            if left is None:
                if self.skip_unknown:
                    unknown[index] = True
                    continue
                raise rows.error(index, f"{EVENT_NAMES[kind]} of order id {order}, which is not live (never submitted "
                                        "in this file, or already fully removed); pass unknown_orders='skip' "
                                        "for orders placed before the file starts")
            if quantity > left:
                raise rows.error(index, f"{EVENT_NAMES[kind]} of size {show(quantity)} exceeds the "
                                        f"{show(left)} remaining of order id {order}")
            left = 0 if kind == EventType.DELETE else left - quantity
            if left:
                remaining[order] = left
            else:
                del remaining[order]
        return unknown
