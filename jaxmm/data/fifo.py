"""A per-order price-time book on the host: the exporters' and the LOBSTER event builder's book.

Every resting order is kept with its id and remaining size in a FIFO queue
per (side, price); prices are integer ticks. The exporters use it to give the
simulator's aggregated volume order ids (a ``REMOVE`` of units at a queue
offset becomes partial cancels and deletes of the orders covering those units;
a ``TAKE`` becomes executions of the front orders); the LOBSTER event builder
uses it to find each referenced order's queue offset.
"""

from __future__ import annotations

import bisect
from collections import deque
from typing import NamedTuple

BID = 0
ASK = 1


class Piece(NamedTuple):
    """Part of one order touched by an event: ``taken`` units, ``left`` remaining after it."""

    order_id: int
    price: int
    taken: int
    left: int


class FifoBook:
    """Orders per side and price in arrival order; sorted prices per side for the best levels."""

    def __init__(self):
        self.queues: tuple[dict, dict] = ({}, {})  # side -> price -> deque of [order_id, size]
        self.totals: tuple[dict, dict] = ({}, {})  # side -> price -> resting units
        self.prices: tuple[list, list] = ([], [])  # side -> sorted prices with volume
        self.orders: dict[int, tuple[int, int]] = {}  # order id -> (side, price)

    # ------------------------------------------------------------------ queries
    def total(self, side: int, price: int) -> int:
        return self.totals[side].get(price, 0)

    def best(self, side: int) -> int | None:
        prices = self.prices[side]
        if not prices:
            return None
        return prices[-1] if side == BID else prices[0]

    def top(self, side: int, depth: int) -> list[tuple[int, int]]:
        """(price, units) of the best ``depth`` levels of ``side``, best first."""
        prices = self.prices[side]
        chosen = prices[::-1][:depth] if side == BID else prices[:depth]
        return [(price, self.totals[side][price]) for price in chosen]

    def levels(self, side: int) -> dict[int, int]:
        """Resting units per price of ``side``."""
        return dict(self.totals[side])

    def locate(self, order_id: int) -> tuple[int, int, int, int]:
        """(side, price, queue offset, remaining size) of a live order."""
        side, price = self.orders[order_id]
        offset = 0
        for other, size in self.queues[side][price]:
            if other == order_id:
                return side, price, offset, size
            offset += size
        raise KeyError(order_id)

    # ------------------------------------------------------------------ changes
    def _change_total(self, side: int, price: int, change: int) -> None:
        total = self.totals[side].get(price, 0) + change
        if total:
            if price not in self.totals[side]:
                bisect.insort(self.prices[side], price)
            self.totals[side][price] = total
        else:
            self.totals[side].pop(price, None)
            index = bisect.bisect_left(self.prices[side], price)
            del self.prices[side][index]
            del self.queues[side][price]

    def add(self, side: int, price: int, size: int, order_id: int) -> None:
        """A new order at the back of its level."""
        if order_id in self.orders:
            raise ValueError(f"order id {order_id} is already live")
        self.queues[side].setdefault(price, deque()).append([order_id, size])
        self.orders[order_id] = (side, price)
        self._change_total(side, price, size)

    def reduce(self, order_id: int, size: int) -> int:
        """Take ``size`` units off a live order (cancel or execution); returns what is left of it."""
        side, price = self.orders[order_id]
        queue = self.queues[side][price]
        for index, entry in enumerate(queue):
            if entry[0] == order_id:
                if size > entry[1]:
                    raise ValueError(f"order id {order_id} has {entry[1]} units, cannot take {size}")
                entry[1] -= size
                left = entry[1]
                if not left:
                    del queue[index]
                    del self.orders[order_id]
                self._change_total(side, price, -size)
                return left
        raise KeyError(order_id)

    def remove_units(self, side: int, price: int, offset: int, size: int) -> list[Piece]:
        """Remove ``size`` units starting ``offset`` units from the front of the level's queue."""
        pieces = self.units(side, price, offset, size)
        for piece in pieces:
            self.reduce(piece.order_id, piece.taken)
        return pieces

    def units(self, side: int, price: int, offset: int, size: int) -> list[Piece]:
        """The orders covering ``size`` units from ``offset`` in the level's queue (nothing changes)."""
        pieces, position = [], 0
        for order_id, resting in list(self.queues[side].get(price, ())):
            if size <= 0:
                break
            end = position + resting
            if end > offset:
                taken = min(size, end - max(position, offset))
                pieces.append(Piece(order_id, price, taken, resting - taken))
                size -= taken
            position = end
        if size > 0:
            raise ValueError(f"level {price} of side {side} holds too few units after offset {offset}")
        return pieces

    def take_units(self, side: int, size: int, limit: int) -> list[Piece]:
        """The orders an aggressor on ``side`` (``BID`` buys) of ``size`` units limited at ``limit``
        would trade with, best price first, front of the queue first (nothing changes)."""
        resting = 1 - side
        prices = self.prices[resting][::-1] if resting == BID else self.prices[resting]
        pieces = []
        for price in prices:
            if size <= 0 or (price > limit if side == BID else price < limit):
                break
            level = min(size, self.total(resting, price))
            pieces += self.units(resting, price, 0, level)
            size -= level
        return pieces

    def outside(self, low: int, high: int) -> list[tuple[int, Piece]]:
        """(side, whole order) for every order priced outside ``[low, high)`` (nothing changes)."""
        return [(side, Piece(order_id, price, resting, 0))
                for side in (BID, ASK) for price in self.prices[side] if not low <= price < high
                for order_id, resting in self.queues[side][price]]
