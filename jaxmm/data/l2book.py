"""Price levels rebuilt from incremental L2 updates, with the best bid and ask at hand.

Each side keeps a dict price -> amount and a heap of prices for the best
price; removed prices are dropped from the heap lazily, and the heap is
rebuilt when stale entries outnumber live ones, so memory follows the number
of live levels.
"""

from __future__ import annotations

import heapq

from jaxmm.data.book import ASK, BID, SIDES

# Rebuild a side's heap once it holds this many times more entries than live levels.
HEAP_SLACK = 2


class L2Book:
    """The book of one instrument as rebuilt from ``(side, price, amount)`` updates; amount 0 removes a level."""

    def __init__(self):
        self._levels: dict[str, dict[float, float]] = {side: {} for side in SIDES}
        self._heaps: dict[str, list[float]] = {side: [] for side in SIDES}

    def clear(self) -> None:
        """Forget every level (a new snapshot starts)."""
        for side in SIDES:
            self._levels[side].clear()
            self._heaps[side].clear()

    def apply(self, side: str, price: float, amount: float) -> bool:
        """Set the amount at ``price``; returns False when removing a level that is not in the book."""
        levels, heap = self._levels[side], self._heaps[side]
        if amount == 0:
            return levels.pop(price, None) is not None
        is_new = price not in levels
        levels[price] = amount
        if is_new:
            heapq.heappush(heap, -price if side == BID else price)
            if len(heap) > HEAP_SLACK * len(levels) + 1:
                self._rebuild(side)
        return True

    def _rebuild(self, side: str) -> None:
        sign = -1 if side == BID else 1
        heap = [sign * price for price in self._levels[side]]
        heapq.heapify(heap)
        self._heaps[side] = heap

    def best(self, side: str) -> float | None:
        """Best price of ``side`` (highest bid, lowest ask), or None when the side is empty."""
        levels, heap = self._levels[side], self._heaps[side]
        sign = -1 if side == BID else 1
        while heap and sign * heap[0] not in levels:
            heapq.heappop(heap)
        return sign * heap[0] if heap else None

    def depth(self, side: str) -> int:
        """Number of live levels on ``side``."""
        return len(self._levels[side])

    def top(self) -> tuple[float | None, float | None]:
        """(best bid, best ask)."""
        return self.best(BID), self.best(ASK)
