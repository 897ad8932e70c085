"""Recorded book events applied to the simulator's book (``jaxmm.envs.lob.book.Book``) on the device.

The background volume follows the recording; the agent's orders live in the
same book with their FIFO queue position, exactly as in the simulator. One
handler per event kind (see :mod:`jaxmm.data.events`):

* ``ADD``: the order joins the back of its level (no capacity or crossing
  check: the recording is what happened). An order that would have crossed
  the agent's resting quote on the other side fills it first (the agent
  quoted inside the recorded spread); the recorded order still rests in full.
* ``REMOVE``: ``lob.cancel`` at the recorded queue offset, so cancellations
  ahead of the agent move it forward and those behind do not.
* ``EXECUTE``: recorded volume leaves at its offset (counted as traded); the
  agent's order at that price fills by what the aggressor traded past its
  position (``offset + size - ahead``), and an agent order at a better price
  fills first. No market impact: the recorded volume leaves all the same.
* ``TAKE``: ``lob.take``, the simulator's own walk (agent included in its turn).
* ``SHIFT``: ``lob.shift_window`` to the recorded origin.
* ``CANCEL_L2``: an L2 decrease with no queue position; the queue model
  (static) says how much of it was ahead of the agent: ``conservative`` none
  (only when the level shrinks below the agent's position does the agent move
  up), ``probabilistic`` a power-law share (hftbacktest's ``ProbQueueModel``):
  with ``front`` units ahead and ``back`` behind, the probability that a
  cancelled unit was behind is ``back^n / (back^n + front^n)``.

Events are dispatched with ``lax.switch`` on (kind, side); a step's events are
a dynamic slice of the stream consumed by ``lax.fori_loop``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxmm.data.events import KIND, OFFSET, PRICE, SIDE, SIZE, EventKind
from jaxmm.envs.lob import book as lob

QUEUE_CONSERVATIVE = "conservative"
QUEUE_PROBABILISTIC = "probabilistic"
QUEUE_MODELS = (QUEUE_CONSERVATIVE, QUEUE_PROBABILISTIC)


@struct.dataclass
class ReplayOutcome:
    """What the agent and the statistics need from one step of events (per side arrays are (2,))."""

    agent_volume: jax.Array  # int32 (2,), units of the agent's bid / ask filled
    agent_notional: jax.Array  # int32 (2,), ticks * units (ticks relative to the price origin)
    agent_entry_ahead: jax.Array  # int32 (2,), units * queue position at entry
    market_volume: jax.Array  # int32 (2,), units bought / sold by aggressors (agent fills included)
    events: jax.Array  # int32, events applied
    window_cancels: jax.Array  # int32, agent orders cancelled because the window moved past them


def empty_outcome() -> ReplayOutcome:
    zeros = jnp.zeros((lob.NUM_SIDES,), jnp.int32)
    return ReplayOutcome(agent_volume=zeros, agent_notional=zeros, agent_entry_ahead=zeros,
                         market_volume=zeros, events=jnp.int32(0), window_cancels=jnp.int32(0))


def _fill_agent(book: lob.Book, outcome: ReplayOutcome, side: int, fill: jax.Array):
    """Fill ``fill`` units of the agent's resting order on ``side`` (already capped at its size)."""
    remaining = book.agent_size[side] - fill
    outcome = outcome.replace(
        agent_volume=outcome.agent_volume.at[side].add(fill),
        agent_notional=outcome.agent_notional.at[side].add(fill * book.agent_price[side]),
        agent_entry_ahead=outcome.agent_entry_ahead.at[side].add(fill * book.agent_entry_ahead[side]))
    book = book.replace(agent_size=book.agent_size.at[side].set(remaining),
                        agent_active=book.agent_active.at[side].set(book.agent_active[side] & (remaining > 0)))
    return book, outcome


def _better(side: int, price: jax.Array, than: jax.Array) -> jax.Array:
    """Whether ``price`` is a strictly better resting price than ``than`` on ``side``."""
    return price > than if side == lob.BID else price < than


def _add(book, outcome, side: int, price, size, offset):
    idx = price - book.origin
    inside = (idx >= 0) & (idx < lob.num_levels(book))
    live = size > 0
    add = jnp.where(inside & (lob.levels(book) == idx), size, 0)
    other = 1 - side
    quote = book.agent_price[other]
    crossed = book.agent_active[other] & live & ((price >= quote) if side == lob.BID else (price <= quote))
    fill = jnp.where(crossed, jnp.minimum(size, book.agent_size[other]), 0)
    book, outcome = _fill_agent(book, outcome, other, fill)
    outcome = outcome.replace(market_volume=outcome.market_volume.at[side].add(fill))
    book = book.replace(volume=book.volume.at[side].add(add),
                        added=book.added.at[side].add(jnp.where(inside & live, size, 0)),
                        rejected=book.rejected + (live & ~inside).astype(jnp.int32))
    return book, outcome


def _remove(book, outcome, side: int, price, size, offset):
    return lob.cancel(book, side, price, size, offset), outcome


def _execute(book, outcome, side: int, price, size, offset):
    ahead = book.agent_ahead[side]
    active = book.agent_active[side]
    at_level = active & (book.agent_price[side] == price)
    better = active & _better(side, book.agent_price[side], price)
    cancelled = book.cancelled[side]
    book = lob.cancel(book, side, price, size, offset)
    removed = book.cancelled[side] - cancelled
    book = book.replace(cancelled=book.cancelled.at[side].set(cancelled),
                        traded=book.traded.at[side].add(removed))
    passed = jnp.where(at_level, jnp.maximum(offset + size - ahead, 0), jnp.where(better, size, 0))
    fill = jnp.minimum(passed, book.agent_size[side])
    book, outcome = _fill_agent(book, outcome, side, jnp.where(active, fill, 0))
    aggressor = 1 - side
    outcome = outcome.replace(market_volume=outcome.market_volume.at[aggressor].add(
        removed + jnp.where(active, fill, 0)))
    return book, outcome


def _take(book, outcome, side: int, price, size, offset):
    book, trade = lob.take(book, side, size, price)
    resting = 1 - side
    outcome = outcome.replace(
        agent_volume=outcome.agent_volume.at[resting].add(trade.agent_volume),
        agent_notional=outcome.agent_notional.at[resting].add(trade.agent_volume * trade.agent_price),
        agent_entry_ahead=outcome.agent_entry_ahead.at[resting].add(trade.agent_volume * trade.agent_entry_ahead),
        market_volume=outcome.market_volume.at[side].add(trade.volume))
    return book, outcome


def _shift(book, outcome, side: int, price, size, offset):
    book, dropped = lob.shift_window(book, price)
    return book, outcome.replace(window_cancels=outcome.window_cancels + dropped)


def _cancel_l2(queue_model: str, queue_power: float):
    def handler(book, outcome, side: int, price, size, offset):
        idx = price - book.origin
        resting = lob.at_levels(book.volume[side], idx)
        size = jnp.clip(size, 0, resting)
        at_agent = book.agent_active[side] & (book.agent_price[side] == price)
        front = jnp.minimum(book.agent_ahead[side], resting)
        back = resting - front
        least = jnp.maximum(size - back, 0)  # the level shrank below the agent's position
        if queue_model == QUEUE_PROBABILISTIC:
            weight_back = back.astype(jnp.float32) ** queue_power
            weight_front = front.astype(jnp.float32) ** queue_power
            total = weight_back + weight_front
            behind = jnp.where(total > 0, weight_back / jnp.where(total > 0, total, 1.0), 1.0)
            expected = jnp.round((1.0 - behind) * size.astype(jnp.float32)).astype(jnp.int32)
            from_front = jnp.clip(expected, least, jnp.minimum(size, front))
        else:
            from_front = least
        start = jnp.where(at_agent, front - from_front, resting - size)
        return lob.cancel(book, side, price, size, start), outcome
    return handler


def _handlers(queue_model: str, queue_power: float) -> list:
    """One branch per (kind, side), indexed ``kind * 2 + side``."""
    by_kind = {EventKind.ADD: _add, EventKind.REMOVE: _remove, EventKind.EXECUTE: _execute,
               EventKind.TAKE: _take, EventKind.SHIFT: _shift,
               EventKind.CANCEL_L2: _cancel_l2(queue_model, queue_power)}
    branches = []
    for kind in sorted(by_kind):
        for side in (lob.BID, lob.ASK):
            branches.append(lambda book, outcome, event, h=by_kind[kind], s=side: h(
                book, outcome, s, event[PRICE], event[SIZE], event[OFFSET]))
    return branches


def apply_event(book: lob.Book, outcome: ReplayOutcome, event: jax.Array,
                queue_model: str = QUEUE_CONSERVATIVE, queue_power: float = 2.0):
    """Apply one int32 event row to the book; returns (book, outcome)."""
    branches = _handlers(queue_model, queue_power)
    index = jnp.clip(event[KIND] * lob.NUM_SIDES + event[SIDE], 0, len(branches) - 1)
    book, outcome = jax.lax.switch(index, branches, book, outcome, event)
    return book, outcome.replace(events=outcome.events + 1)


def apply_events(book: lob.Book, events: jax.Array, start: jax.Array, end: jax.Array,
                 queue_model: str = QUEUE_CONSERVATIVE, queue_power: float = 2.0):
    """Apply rows ``start:end`` of the int32 (N, 5) stream in order; returns (book, outcome)."""
    def body(i, carry):
        book, outcome = carry
        return apply_event(book, outcome, events[i], queue_model, queue_power)

    return jax.lax.fori_loop(start, end, body, (book, empty_outcome()))


def top_levels(book: lob.Book, depth: int) -> jax.Array:
    """The best ``depth`` non-empty price levels per side (agent orders included), int32 (4, depth):
    bid prices, bid sizes, ask prices, ask sizes (ticks; size 0 and price 0 where a side has fewer levels)."""
    rows = []
    slots = jnp.arange(depth, dtype=jnp.int32)[:, None]
    prices = book.origin + lob.levels(book)
    for side in (lob.BID, lob.ASK):
        volume = lob.total_volume(book, side)
        occupied = volume > 0
        count = jnp.cumsum(occupied[::-1].astype(jnp.int32))[::-1] if side == lob.BID \
            else jnp.cumsum(occupied.astype(jnp.int32))
        hit = occupied[None, :] & (count[None, :] - 1 == slots)
        rows.append(jnp.sum(jnp.where(hit, prices[None, :], 0), axis=1))
        rows.append(jnp.sum(jnp.where(hit, volume[None, :], 0), axis=1))
    return jnp.stack(rows).astype(jnp.int32)


def window_book(volume: jax.Array, origin: jax.Array) -> lob.Book:
    """A book holding ``volume`` (int32 (2, P)) from tick ``origin``, with no agent order."""
    book = lob.empty_book(volume.shape[-1])
    return book.replace(origin=jnp.asarray(origin, jnp.int32), volume=jnp.asarray(volume, jnp.int32))


@jax.jit(static_argnames=("depth",))
def replay_levels(events: jax.Array, volume: jax.Array, origin: jax.Array, depth: int) -> jax.Array:
    """Replay ``events`` one by one from the window ``volume`` at ``origin``; the :func:`top_levels`
    after each event, int32 (N, 4, depth). What a LOBSTER order-book file holds, row by row."""
    def body(book, event):
        book, _ = apply_event(book, empty_outcome(), event)
        return book, top_levels(book, depth)

    _, levels = jax.lax.scan(body, window_book(volume, origin), events)
    return levels
