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

The per-level kinds (ADD, REMOVE, EXECUTE, CANCEL_L2) are one side-generic update
(under ``vmap`` a ``lax.switch`` would compute every branch for every event); TAKE walks
run only for streams that hold them (a static flag) and a SHIFT is a gather that leaves
the window where it is for every other row. A step's events are a dynamic slice of the
stream consumed by ``lax.fori_loop``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
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


def _side_select(side: jax.Array, bid, ask):
    """``bid`` where ``side`` is BID, else ``ask`` (side is traced)."""
    return jnp.where(side == lob.BID, bid, ask)


def _level_event(book: lob.Book, outcome: ReplayOutcome, event: jax.Array, queue_model: str, queue_power: float):
    """ADD, REMOVE, EXECUTE and CANCEL_L2 in one side-generic update (other kinds leave the book as it is):
    each changes one level of one side and moves or fills the agent's order there."""
    kind, side, price, size, offset = (event[i] for i in (KIND, SIDE, PRICE, SIZE, OFFSET))
    is_add, is_remove = kind == EventKind.ADD, kind == EventKind.REMOVE
    is_execute, is_l2 = kind == EventKind.EXECUTE, kind == EventKind.CANCEL_L2
    index = price - book.origin
    inside = (index >= 0) & (index < lob.num_levels(book))
    cell = (jnp.arange(lob.NUM_SIDES)[:, None] == side) & (lob.levels(book)[None, :] == index)
    resting = jnp.sum(jnp.where(cell, book.volume, 0))
    active, quote, units = book.agent_active[side], book.agent_price[side], book.agent_size[side]
    ahead = book.agent_ahead[side]
    at_agent = active & (quote == price)
    # Where in the queue the removed units start: recorded (REMOVE, EXECUTE) or the queue model's (CANCEL_L2).
    l2_size = jnp.clip(size, 0, resting)
    front = jnp.minimum(ahead, resting)
    back = resting - front
    least = jnp.maximum(l2_size - back, 0)  # the level shrank below the agent's position
    if queue_model == QUEUE_PROBABILISTIC:
        weight_back = back.astype(jnp.float32) ** queue_power
        weight_front = front.astype(jnp.float32) ** queue_power
        total = weight_back + weight_front
        behind = jnp.where(total > 0, weight_back / jnp.where(total > 0, total, 1.0), 1.0)
        expected = jnp.round((1.0 - behind) * l2_size.astype(jnp.float32)).astype(jnp.int32)
        from_front = jnp.clip(expected, least, jnp.minimum(l2_size, front))
    else:
        from_front = least
    start = jnp.where(is_l2, jnp.where(at_agent, front - from_front, resting - l2_size),
                      jnp.clip(offset, 0, resting))
    wanted = jnp.where(is_l2, l2_size, size)
    removes = is_remove | is_execute | is_l2
    removed = jnp.where(removes, jnp.clip(jnp.minimum(wanted, resting - start), 0, None), 0)
    removed_ahead = jnp.where(at_agent, jnp.clip(ahead - start, 0, removed), 0)
    added = jnp.where(is_add & inside & (size > 0), size, 0)
    # Fills: an execution past the agent's position or through a better quote on the same side; an
    # incoming order that would have crossed the agent's quote on the other side.
    better = active & _side_select(side, quote > price, quote < price)
    passed = jnp.where(at_agent, jnp.maximum(offset + size - ahead, 0), jnp.where(better, size, 0))
    execute_fill = jnp.where(is_execute & active, jnp.minimum(passed, units), 0)
    other = 1 - side
    other_quote = book.agent_price[other]
    crossed = is_add & (size > 0) & book.agent_active[other] & _side_select(side, price >= other_quote,
                                                                              price <= other_quote)
    add_fill = jnp.where(crossed, jnp.minimum(size, book.agent_size[other]), 0)
    fill_side = jnp.where(is_add, other, side)
    fill = execute_fill + add_fill
    remaining = book.agent_size[fill_side] - fill
    outcome = outcome.replace(
        agent_volume=outcome.agent_volume.at[fill_side].add(fill),
        agent_notional=outcome.agent_notional.at[fill_side].add(fill * book.agent_price[fill_side]),
        agent_entry_ahead=outcome.agent_entry_ahead.at[fill_side].add(fill * book.agent_entry_ahead[fill_side]),
        market_volume=outcome.market_volume.at[jnp.where(is_add, side, other)].add(
            jnp.where(is_execute, removed + execute_fill, add_fill)))
    book = book.replace(
        volume=book.volume + jnp.where(cell, added - removed, 0),
        agent_ahead=book.agent_ahead.at[side].add(-removed_ahead),
        agent_size=book.agent_size.at[fill_side].set(remaining),
        agent_active=book.agent_active.at[fill_side].set(book.agent_active[fill_side] & (remaining > 0)),
        added=book.added.at[side].add(added),
        cancelled=book.cancelled.at[side].add(jnp.where(is_remove | is_l2, removed, 0)),
        traded=book.traded.at[side].add(jnp.where(is_execute, removed, 0)),
        rejected=book.rejected + (is_add & (size > 0) & ~inside).astype(jnp.int32))
    return book, outcome


def _take(book: lob.Book, outcome: ReplayOutcome, event: jax.Array):
    """TAKE: the simulator's own walk on the event's side (the other side's walk is of size 0)."""
    is_take = event[KIND] == EventKind.TAKE
    for side in (lob.BID, lob.ASK):
        size = jnp.where(is_take & (event[SIDE] == side), event[SIZE], 0)
        book, trade = lob.take(book, side, size, event[PRICE])
        resting = 1 - side
        outcome = outcome.replace(
            agent_volume=outcome.agent_volume.at[resting].add(trade.agent_volume),
            agent_notional=outcome.agent_notional.at[resting].add(trade.agent_volume * trade.agent_price),
            agent_entry_ahead=outcome.agent_entry_ahead.at[resting].add(
                trade.agent_volume * trade.agent_entry_ahead),
            market_volume=outcome.market_volume.at[side].add(trade.volume))
    return book, outcome


def _shift(book: lob.Book, outcome: ReplayOutcome, event: jax.Array):
    """SHIFT: move the window to the event's origin (other kinds: to where it is, which changes nothing)."""
    origin = jnp.where(event[KIND] == EventKind.SHIFT, event[PRICE], book.origin)
    book, dropped = lob.shift_window(book, origin)
    return book, outcome.replace(window_cancels=outcome.window_cancels + dropped)


def apply_event(book: lob.Book, outcome: ReplayOutcome, event: jax.Array,
                queue_model: str = QUEUE_CONSERVATIVE, queue_power: float = 2.0, takes: bool = True):
    """Apply one int32 event row to the book; returns (book, outcome). ``takes`` (static): whether the
    stream holds TAKE rows (simulator streams); recorded data has none and skips their walks."""
    book, outcome = _level_event(book, outcome, event, queue_model, queue_power)
    if takes:
        book, outcome = _take(book, outcome, event)
    book, outcome = _shift(book, outcome, event)
    return book, outcome.replace(events=outcome.events + 1)


def apply_events(book: lob.Book, events: jax.Array, start: jax.Array, end: jax.Array,
                 queue_model: str = QUEUE_CONSERVATIVE, queue_power: float = 2.0, takes: bool = True):
    """Apply rows ``start:end`` of the int32 (N, 5) stream in order; returns (book, outcome)."""
    def body(i, carry):
        book, outcome = carry
        return apply_event(book, outcome, events[i], queue_model, queue_power, takes)

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


@functools.partial(jax.jit, static_argnames=("depth", "takes"))
def _replay_levels(events: jax.Array, volume: jax.Array, origin: jax.Array, depth: int, takes: bool) -> jax.Array:
    def body(book, event):
        book, _ = apply_event(book, empty_outcome(), event, takes=takes)
        return book, top_levels(book, depth)

    _, levels = jax.lax.scan(body, window_book(volume, origin), events)
    return levels


def replay_levels(events, volume, origin, depth: int) -> jax.Array:
    """Replay ``events`` one by one from the window ``volume`` at ``origin``; the :func:`top_levels`
    after each event, int32 (N, 4, depth). What a LOBSTER order-book file holds, row by row.

    The stream is padded with no-op rows (``ADD`` of size 0) to a power of two, so streams of
    similar lengths share one compiled program."""
    events = np.asarray(events, np.int32)
    padded = np.zeros((max(1, 1 << int(np.ceil(np.log2(max(len(events), 1))))), events.shape[1]), np.int32)
    padded[:len(events)] = events
    takes = bool(np.any(events[:, KIND] == EventKind.TAKE))
    return _replay_levels(jnp.asarray(padded), jnp.asarray(volume), jnp.asarray(origin), depth, takes)[:len(events)]
