"""A fixed-window limit order book as pure functions: aggregated background volume
per price level plus the agent's orders with their exact queue position.

Representation
--------------
* Prices are integer ticks (int32). The book covers a window of ``P`` consecutive
  ticks ``[origin, origin + P)``; ``volume[side, j]`` is the background (non-agent)
  volume resting at tick ``origin + j``.
* The agent has at most one order per side: ``agent_active``, ``agent_price``,
  ``agent_size`` (remaining) and ``agent_ahead``, the background volume ahead of it
  in the FIFO queue of its level. Volume behind it is ``volume - agent_ahead``.

What is exact: price-time priority as seen by the agent. Every handler moves the
agent's queue position exactly as a per-order FIFO book would (see
``tests/reference/lob_reference.py``, which keeps individual orders, and the
differential test): takers consume a level front to back (volume ahead, then the
agent, then volume behind); background limit orders join the back; a background
cancellation names the queue offset of the volume it removes, so cancellations
ahead of the agent move it forward and those behind do not.
What is aggregated: the identity of individual background orders (only their
total per level is kept, so their own queue positions are not tracked).

Capacity: the window holds ``P`` levels and each level at most ``capacity`` units.
An order outside the window, one that would overfill its level, or a post-only
order that would cross is rejected and counted in ``rejected``; nothing is ever
overwritten. ``added - cancelled - traded - exited`` equals the resting background
volume per side (``exited``: volume that left the window when it moved).

One handler per event type: ``post`` (background post-only limit order),
``cancel`` (background cancellation), ``take`` (market / IOC order walking the
book), ``agent_post``, ``agent_cancel``, ``agent_take``, ``shift_window``.
Handlers take a static ``side``.

Batched forms for the flow's hot path, each exactly equal to applying the single
handler to its events in order (``tests/test_lob_batch.py``) but with one pass over
the levels instead of one per event: ``post_batch`` (a side's limit orders: a post
cannot move the opposite best price, so they share one crossing check),
``cancel_batch`` (a side's cancellations, sequential bookkeeping on scalars) and
``take_then_sweep`` (a market order followed by an IOC order on the same side:
together they take the first units of the priority order, so one walk serves both) and
``agent_market_order`` (the agent's market order with its side chosen per book).

Layouts: every handler takes one book, or a batch of books with the batch as the
trailing axes ("levels x batch": ``volume`` (2, P, B), per-side fields (2, B),
scalars (B,), event arrays (K, B)). Levels are always the first axis of a side's
row and reductions run over it, so the same code reads as the one-book
specification and, on a batch, is one vectorised pass over all books at once,
which XLA on CPU runs much faster than a ``vmap`` of the one-book form (whose
reductions then run along the minor axis). ``jaxmm.envs.lob.layout`` picks the
form per environment; ``tests/test_lob_batch_wide.py`` checks that both give the
same books, fills, rewards and observations.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

BID = 0
ASK = 1
NUM_SIDES = 2
NO_LEVEL = -1  # index returned by best_index when a side is empty (always paired with a `has` flag)


@struct.dataclass
class Book:
    origin: jax.Array  # int32, absolute tick of window index 0
    volume: jax.Array  # int32 (2, P), background volume per side and level
    agent_active: jax.Array  # bool (2,)
    agent_price: jax.Array  # int32 (2,), absolute tick
    agent_size: jax.Array  # int32 (2,), remaining units
    agent_ahead: jax.Array  # int32 (2,), background volume ahead in the queue
    agent_entry_ahead: jax.Array  # int32 (2,), volume ahead when the order joined
    added: jax.Array  # int32 (2,), background volume posted
    cancelled: jax.Array  # int32 (2,), background volume cancelled
    traded: jax.Array  # int32 (2,), background resting volume traded
    exited: jax.Array  # int32 (2,), background volume dropped by window moves
    rejected: jax.Array  # int32, rejected events (overflow, outside window, crossing)


@struct.dataclass
class Trade:
    """Outcome of one taking order (int32 scalars)."""

    volume: jax.Array  # units traded in total
    notional: jax.Array  # sum of price * units, in ticks
    agent_volume: jax.Array  # units of the agent's resting order filled
    agent_price: jax.Array  # tick of the agent's order
    agent_entry_ahead: jax.Array  # its queue position when it joined


EXACT_FLOAT_INT = 2 ** 24  # integers below this are exact in float32


def materialised(x):
    """``x`` computed once, before the level-wide updates that read it: on a batch, XLA would
    otherwise fuse per-book bookkeeping into each level's element and recompute it there."""
    return jax.lax.optimization_barrier(x)


def prefix_sum(x: jax.Array) -> jax.Array:
    """Inclusive cumulative sum of int32 volumes along the first axis (the levels).

    One book (``x`` of shape (P,)): a float32 product with a triangular matrix;
    vmapped, it is one matrix multiplication, much cheaper on CPU than ``jnp.cumsum``'s
    reduce-window, and exact while partial sums stay below ``EXACT_FLOAT_INT`` (level
    capacity times the number of levels, checked by the config). A batch (P, B): one
    running int32 sum over the levels, each step a vector add across the books,
    materialised once (an optimisation barrier: otherwise XLA fuses the chain of adds
    into every consumer and recomputes it per element, several times slower).
    """
    n = x.shape[0]
    if x.ndim == 1:
        upper = jnp.triu(jnp.ones((n, n), jnp.float32))
        return jnp.rint(x.astype(jnp.float32) @ upper).astype(x.dtype)
    rows = [x[0]]
    for j in range(1, n):
        rows.append(rows[-1] + x[j])
    return materialised(jnp.stack(rows))


def _i32(x) -> jax.Array:
    return jnp.asarray(x, dtype=jnp.int32)


def empty_book(num_levels: int, origin: int = 0) -> Book:
    """One empty book (the batch layout stacks books along a trailing axis)."""
    zeros2 = jnp.zeros((NUM_SIDES,), jnp.int32)
    return Book(origin=_i32(origin), volume=jnp.zeros((NUM_SIDES, num_levels), jnp.int32),
                agent_active=jnp.zeros((NUM_SIDES,), bool), agent_price=zeros2, agent_size=zeros2,
                agent_ahead=zeros2, agent_entry_ahead=zeros2, added=zeros2, cancelled=zeros2,
                traded=zeros2, exited=zeros2, rejected=_i32(0))


def num_levels(book: Book) -> int:
    return book.volume.shape[1]


def batch_shape(book: Book) -> tuple[int, ...]:
    """() for one book, (B,) for a batch in the levels x batch layout."""
    return book.origin.shape


def level_column(count: int, batch_ndim: int) -> jax.Array:
    """0..count-1 as int32 of shape (count, 1, ...): broadcasts against (count, *batch)."""
    return jnp.arange(count, dtype=jnp.int32).reshape((count,) + (1,) * batch_ndim)


def levels(book: Book) -> jax.Array:
    return level_column(num_levels(book), len(batch_shape(book)))


def at_levels(row: jax.Array, idx: jax.Array) -> jax.Array:
    """``row[idx]`` per book, 0 outside ``[0, P)`` (a masked sum, so no clipping of indices
    is needed): ``row`` (P, *batch), int32 ``idx`` (*extra, *batch) -> (*extra, *batch)."""
    extra = idx.ndim - (row.ndim - 1)
    hit = level_column(row.shape[0], idx.ndim) == idx[None]
    row = row.reshape(row.shape[:1] + (1,) * extra + row.shape[1:])
    return jnp.sum(jnp.where(hit, row, 0), axis=0)


def agent_index(book: Book, side: int) -> jax.Array:
    return book.agent_price[side] - book.origin


def agent_volume(book: Book, side: int) -> jax.Array:
    """The agent's resting units per level of ``side`` (int32 (P, *batch))."""
    here = book.agent_active[side] & (levels(book) == agent_index(book, side))
    return jnp.where(here, book.agent_size[side], 0)


def total_volume(book: Book, side: int) -> jax.Array:
    return book.volume[side] + agent_volume(book, side)


def best_index(book: Book, side: int) -> tuple[jax.Array, jax.Array]:
    """(has, index) of the best level of ``side``; index is NO_LEVEL when empty."""
    occupied = total_volume(book, side) > 0
    idx = levels(book)
    if side == BID:
        best = jnp.max(jnp.where(occupied, idx, NO_LEVEL), axis=0)
    else:
        best = jnp.min(jnp.where(occupied, idx, num_levels(book)), axis=0)
        best = jnp.where(best == num_levels(book), NO_LEVEL, best)
    return best != NO_LEVEL, best.astype(jnp.int32)


def best_price(book: Book, side: int) -> tuple[jax.Array, jax.Array]:
    has, idx = best_index(book, side)
    return has, book.origin + idx


def _crosses(book: Book, side: int, price: jax.Array) -> jax.Array:
    """Whether a limit order at ``price`` on ``side`` would trade on arrival."""
    has, opposite = best_price(book, 1 - side)
    if side == BID:
        return has & (price >= opposite)
    return has & (price <= opposite)


def _level_room(book: Book, side: int, idx: jax.Array, size: jax.Array,
                capacity: jax.Array) -> jax.Array:
    inside = (idx >= 0) & (idx < num_levels(book))
    return inside & (at_levels(total_volume(book, side), idx) + size <= capacity)


# --------------------------------------------------------------------- handlers
def post(book: Book, side: int, price: jax.Array, size: jax.Array, capacity: jax.Array) -> Book:
    """Background post-only limit order joining the back of its level's queue.

    ``size <= 0`` is an inactive event slot (no effect, not counted).
    """
    idx = price - book.origin
    live = size > 0
    ok = live & _level_room(book, side, idx, size, capacity) & ~_crosses(book, side, price)
    add = jnp.where(ok & (levels(book) == idx), size, 0)
    return book.replace(
        volume=book.volume.at[side].add(add),
        added=book.added.at[side].add(jnp.where(ok, size, 0)),
        rejected=book.rejected + (live & ~ok).astype(jnp.int32))


def cancel(book: Book, side: int, price: jax.Array, size: jax.Array, offset: jax.Array) -> Book:
    """Cancel up to ``size`` background units at ``price``, starting ``offset`` units
    from the front of the level's background queue (truncated at the queue's end)."""
    idx = price - book.origin
    inside = (idx >= 0) & (idx < num_levels(book))
    here = inside & (levels(book) == idx)
    resting = jnp.sum(jnp.where(here, book.volume[side], 0), axis=0)
    start = jnp.clip(offset, 0, resting)
    removed = jnp.clip(jnp.minimum(size, resting - start), 0, None)
    at_agent = book.agent_active[side] & (agent_index(book, side) == idx)
    ahead = book.agent_ahead[side]
    removed_ahead = jnp.where(at_agent, jnp.clip(ahead - start, 0, removed), 0)
    return book.replace(
        volume=book.volume.at[side].add(-jnp.where(here, removed, 0)),
        agent_ahead=book.agent_ahead.at[side].add(-removed_ahead),
        cancelled=book.cancelled.at[side].add(removed))


def _walk(book: Book, side: int, size: jax.Array, limit_price: jax.Array,
          include_agent: bool) -> tuple[Book, Trade]:
    """An aggressor on ``side`` takes up to ``size`` units from the opposite side at
    prices no worse than ``limit_price``, best price first, FIFO within a level."""
    resting = 1 - side
    idx = levels(book)
    prices = book.origin + idx
    eligible = prices <= limit_price if side == BID else prices >= limit_price
    agent_level = book.agent_active[resting] & (idx == agent_index(book, resting))
    agent_here = jnp.where(agent_level, book.agent_size[resting], 0) if include_agent else 0
    avail = jnp.where(eligible, book.volume[resting] + agent_here, 0)
    inclusive = prefix_sum(avail)
    # Volume at strictly better prices: lower asks for a buyer, higher bids for a seller.
    before = inclusive - avail if side == BID else inclusive[-1] - inclusive
    take = jnp.clip(jnp.maximum(size, 0) - before, 0, avail)
    # Within the agent's level: volume ahead first, then the agent (unless skipped), then behind.
    level_take = jnp.sum(jnp.where(agent_level, take, 0), axis=0)
    ahead = book.agent_ahead[resting]
    from_ahead = jnp.minimum(level_take, ahead)
    agent_fill = jnp.clip(level_take - ahead, 0, book.agent_size[resting]) if include_agent else _i32(0)
    background_take = take - jnp.where(agent_level, agent_fill, 0)
    remaining = book.agent_size[resting] - agent_fill
    trade = Trade(volume=jnp.sum(take, axis=0), notional=jnp.sum(take * prices, axis=0),
                  agent_volume=agent_fill,
                  agent_price=book.agent_price[resting],
                  agent_entry_ahead=book.agent_entry_ahead[resting])
    book = book.replace(
        volume=book.volume.at[resting].add(-background_take),
        agent_ahead=book.agent_ahead.at[resting].add(-from_ahead),
        agent_size=book.agent_size.at[resting].set(remaining),
        agent_active=book.agent_active.at[resting].set(book.agent_active[resting] & (remaining > 0)),
        traded=book.traded.at[resting].add(jnp.sum(background_take, axis=0)))
    return book, trade


def post_batch(book: Book, side: int, prices: jax.Array, sizes: jax.Array,
               capacity: jax.Array) -> Book:
    """``post`` of each (price, size) in order, in one pass (int32 (K, *batch) each; size <= 0:
    inactive slot). A post only adds to ``side``, so the opposite best price, and with
    it the crossing check, is the same for all of them; the room of a level counts the
    earlier accepted posts of the batch at that level."""
    idx = prices - book.origin
    live = sizes > 0
    inside = (idx >= 0) & (idx < num_levels(book))
    level_total = at_levels(total_volume(book, side), idx)
    has, opposite = best_price(book, 1 - side)
    crossing = has & ((prices >= opposite) if side == BID else (prices <= opposite))
    candidate = live & inside & ~crossing
    accepted = []
    for j in range(prices.shape[0]):
        earlier = sum((jnp.where(accepted[i] & (idx[i] == idx[j]), sizes[i], 0) for i in range(j)),
                      _i32(0))
        accepted.append(candidate[j] & (level_total[j] + earlier + sizes[j] <= capacity))
    ok = jnp.stack(accepted) if accepted else jnp.zeros((0,) + batch_shape(book), bool)
    posted = materialised(jnp.where(ok, sizes, 0))
    add = sum(jnp.where(levels(book) == idx[j], posted[j], 0) for j in range(posted.shape[0]))
    return book.replace(
        volume=book.volume.at[side].add(add),
        added=book.added.at[side].add(jnp.sum(posted, axis=0)),
        rejected=book.rejected + jnp.sum((live & ~ok).astype(jnp.int32), axis=0))


def cancel_batch(book: Book, side: int, prices: jax.Array, sizes: jax.Array,
                 offsets: jax.Array) -> Book:
    """``cancel`` of each (price, size, offset) in order, in one pass over the levels:
    the sequential effect on each level and on the agent's queue position is kept on
    scalars (int32 (K, *batch) each)."""
    idx = prices - book.origin
    inside = (idx >= 0) & (idx < num_levels(book))
    at_level = at_levels(book.volume[side], idx)
    at_agent = book.agent_active[side] & (agent_index(book, side) == idx)
    ahead = book.agent_ahead[side]
    removed = []
    for j in range(prices.shape[0]):
        earlier = sum((jnp.where(inside[i] & (idx[i] == idx[j]), removed[i], 0) for i in range(j)),
                      _i32(0))
        resting = at_level[j] - earlier
        start = jnp.clip(offsets[j], 0, resting)
        removed.append(jnp.clip(jnp.minimum(sizes[j], resting - start), 0, None))
        ahead = ahead - jnp.where(at_agent[j], jnp.clip(ahead - start, 0, removed[j]), 0)
    removed, ahead = materialised((jnp.stack(removed), ahead))
    delta = sum(jnp.where(levels(book) == idx[j], removed[j], 0) for j in range(removed.shape[0]))
    return book.replace(
        volume=book.volume.at[side].add(-delta),
        agent_ahead=book.agent_ahead.at[side].set(ahead),
        cancelled=book.cancelled.at[side].add(jnp.sum(removed, axis=0)))


def take_then_sweep(book: Book, side: int, market_size: jax.Array, ioc_size: jax.Array,
                    ioc_limit: jax.Array) -> tuple[Book, Trade, jax.Array]:
    """A market order of ``market_size`` then an IOC order of ``ioc_size`` limited at
    ``ioc_limit``, both on ``side``, in one walk: the market order takes the first ``m``
    units of the opposite side's priority order (price, then queue), the IOC order the
    next ones priced within its limit, so together they take the first
    ``max(m, min(m + n, units within the limit))``. Returns (book, combined trade,
    whether the IOC order traded)."""
    resting = 1 - side
    idx = levels(book)
    prices = book.origin + idx
    agent_level = book.agent_active[resting] & (idx == agent_index(book, resting))
    avail = book.volume[resting] + jnp.where(agent_level, book.agent_size[resting], 0)
    within = prices <= ioc_limit if side == BID else prices >= ioc_limit
    market = jnp.maximum(market_size, 0)
    reachable = jnp.sum(jnp.where(within, avail, 0), axis=0)
    total = jnp.maximum(market, jnp.minimum(market + jnp.maximum(ioc_size, 0), reachable))
    book, trade = _walk(book, side, total, window_edge(book, side), include_agent=True)
    return book, trade, total > market


def window_edge(book: Book, side: int) -> jax.Array:
    """The worst price inside the window for an aggressor on ``side`` (a market order's limit)."""
    return book.origin + (num_levels(book) - 1 if side == BID else 0)


def take(book: Book, side: int, size: jax.Array, limit_price: jax.Array) -> tuple[Book, Trade]:
    """Background market (``limit_price`` = window edge) or IOC limit order; trades with
    the agent's resting orders in their turn."""
    return _walk(book, side, size, limit_price, include_agent=True)


def agent_post(book: Book, side: int, price: jax.Array, size: jax.Array,
               capacity: jax.Array) -> tuple[Book, jax.Array]:
    """The agent's post-only order joins the back of its level. Returns (book, accepted)."""
    idx = price - book.origin
    live = size > 0
    ok = (live & ~book.agent_active[side] & _level_room(book, side, idx, size, capacity)
          & ~_crosses(book, side, price))
    ahead = jnp.sum(jnp.where(levels(book) == idx, book.volume[side], 0), axis=0)
    book = book.replace(
        agent_active=book.agent_active.at[side].set(book.agent_active[side] | ok),
        agent_price=book.agent_price.at[side].set(jnp.where(ok, price, book.agent_price[side])),
        agent_size=book.agent_size.at[side].set(jnp.where(ok, size, book.agent_size[side])),
        agent_ahead=book.agent_ahead.at[side].set(jnp.where(ok, ahead, book.agent_ahead[side])),
        agent_entry_ahead=book.agent_entry_ahead.at[side].set(
            jnp.where(ok, ahead, book.agent_entry_ahead[side])),
        rejected=book.rejected + (live & ~ok).astype(jnp.int32))
    return book, ok


def agent_cancel(book: Book, side: int) -> Book:
    return book.replace(agent_active=book.agent_active.at[side].set(False),
                        agent_size=book.agent_size.at[side].set(0))


def agent_take(book: Book, side: int, size: jax.Array) -> tuple[Book, Trade]:
    """The agent's market order; it never trades with its own resting order."""
    return _walk(book, side, size, window_edge(book, side), include_agent=False)


def agent_market_order(book: Book, qty: jax.Array) -> tuple[Book, jax.Array, jax.Array]:
    """The agent's market order of signed size ``qty`` (+ buys from the asks, - sells to the
    bids) in one walk over the levels: exactly ``agent_take(book, BID, max(qty, 0))`` then
    ``agent_take(book, ASK, max(-qty, 0))``, of which one is empty, but with the book's side
    chosen per book (the batched form of the agent's market order; half the work of two
    walks). Returns (book, signed units traded, signed notional in ticks * units)."""
    buy = qty > 0
    idx = levels(book)
    prices = book.origin + idx
    # The resting side per book: the asks for a buy (best = lowest), the bids for a sell (best
    # = highest); its volume ahead in priority order is a prefix or a suffix sum.
    avail = jnp.where(buy, book.volume[ASK], book.volume[BID])
    inclusive = prefix_sum(avail)
    before = jnp.where(buy, inclusive - avail, inclusive[-1] - inclusive)
    take = jnp.clip(jnp.abs(qty) - before, 0, avail)
    agent_level = jnp.where(buy, book.agent_active[ASK] & (idx == agent_index(book, ASK)),
                            book.agent_active[BID] & (idx == agent_index(book, BID)))
    level_take = jnp.sum(jnp.where(agent_level, take, 0), axis=0)
    from_ahead = jnp.minimum(level_take, jnp.where(buy, book.agent_ahead[ASK], book.agent_ahead[BID]))
    volume, notional = jnp.sum(take, axis=0), jnp.sum(take * prices, axis=0)
    on_side = (~buy, buy)  # (bid, ask): the side a book's order takes from
    book = book.replace(
        volume=jnp.stack([book.volume[s] - jnp.where(on_side[s], take, 0) for s in (BID, ASK)]),
        agent_ahead=jnp.stack([book.agent_ahead[s] - jnp.where(on_side[s], from_ahead, 0) for s in (BID, ASK)]),
        # as each agent_take leaves its side: active only while units remain (the agent's own
        # orders are never taken here)
        agent_active=book.agent_active & (book.agent_size > 0),
        traded=jnp.stack([book.traded[s] + jnp.where(on_side[s], volume, 0) for s in (BID, ASK)]))
    return book, jnp.where(buy, volume, -volume), jnp.where(buy, notional, -notional)


def shift_window(book: Book, new_origin: jax.Array) -> tuple[Book, jax.Array]:
    """Move the window to start at ``new_origin``. Background volume leaving it is
    counted in ``exited``; agent orders leaving it are cancelled. Returns
    (book, number of agent orders cancelled)."""
    moved = _shifted_levels(book.volume, new_origin - book.origin)
    exited = jnp.sum(book.volume, axis=1) - jnp.sum(moved, axis=1)
    new_idx = book.agent_price - new_origin
    outside = book.agent_active & ((new_idx < 0) | (new_idx >= num_levels(book)))
    book = book.replace(
        origin=_i32(new_origin), volume=moved, exited=book.exited + exited,
        agent_active=book.agent_active & ~outside,
        agent_size=jnp.where(outside, 0, book.agent_size))
    return book, jnp.sum(outside.astype(jnp.int32), axis=0)


def _shifted_levels(volume: jax.Array, shift: jax.Array) -> jax.Array:
    """``volume[:, j + shift]`` per book, 0 where that index leaves the window (a gather
    along the levels; ``volume`` (2, P, *batch), ``shift`` (*batch))."""
    count = volume.shape[1]
    src = level_column(count, shift.ndim) + shift
    valid = (src >= 0) & (src < count)
    moved = jnp.take_along_axis(volume, jnp.clip(src, 0, count - 1)[None], axis=1)
    return jnp.where(valid[None], moved, 0)
