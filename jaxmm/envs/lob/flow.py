"""Background order flow and informed traders: one step of events applied to the book.

Each step has a fixed set of event slots, processed in phases: cancellations
(bid side, then ask side), limit orders (bid, then ask), then takers: on each side
an uninformed market order followed by the informed trader's IOC order. A slot is
active with its probability; an inactive slot carries size 0, which every book
handler treats as no event. Each phase is one batched book operation
(``post_batch``, ``cancel_batch``, ``take_then_sweep``), equal to applying its
events one by one; the flow reacts to the book as it is at the start of each phase
(cancellations) or at each event (limit orders, takers), the agent's orders included.

* Limit orders (Cont, Stoikov & Talreja 2010): a bid lands ``i`` ticks below the
  best ask (an ask ``i`` above the best bid), ``P(i) ~ i^-distance_exponent`` for
  ``i = 1..max_distance``; they never cross. With the opposite side empty the
  reference is the tick next to the last mid.
* Cancellations proportional to resting volume: a slot fires with probability
  ``cancel_rate * Q / slots`` (``Q`` the side's background volume at the start of
  the phase) and removes an order-sized chunk starting at a uniformly drawn resting
  unit, so every resting unit is equally likely to be hit, whatever its level or
  queue position.
* Market orders: buy and sell each with probability ``(1 - informed_share) *
  market_rate / 2 + excitation`` (Hawkes, exponential kernel in discrete time:
  the excitation of a side decays by ``hawkes_decay`` per step and jumps by
  ``hawkes_jump`` per market order on that side).
* Informed traders: with probability ``informed_share * market_rate`` one arrives;
  it buys every unit offered strictly below the fair value V (IOC limit ceil(V) - 1)
  when V is above the best ask, sells strictly above it (limit floor(V) + 1) when V
  is below the best bid, else does nothing. Their trades pull the mid towards V.
* Order sizes: geometric with mean ``size_mean``, truncated at ``max_order_size``.

Random numbers are 16-bit uniforms (two per uint32 word), so probabilities are
resolved to 2^-16.

Like the book handlers, the flow runs on one book or on a batch of books in the
levels x batch layout (uniforms (U, B), per-side values (2, B)).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxmm.envs.lob import book as lob

HALF_BITS = 16
HALF_MASK = (1 << HALF_BITS) - 1
HALF_SCALE = 2.0 ** -HALF_BITS
UNIFORMS_PER_CANCEL = 3  # active, which resting unit, size
UNIFORMS_PER_LIMIT = 3  # active, distance, size
UNIFORMS_PER_MARKET = 2  # active, size
UNIFORMS_FAIR_VALUE = 3  # shock, jump active, jump sign


def flow_uniforms(limit_slots: int, cancel_slots: int) -> int:
    """Number of 16-bit uniforms one flow step uses."""
    per_side = cancel_slots * UNIFORMS_PER_CANCEL + limit_slots * UNIFORMS_PER_LIMIT
    return lob.NUM_SIDES * per_side + 3 * UNIFORMS_PER_MARKET + UNIFORMS_FAIR_VALUE


def uniforms_from_bits(bits: jax.Array) -> jax.Array:
    """uint32 words (..., W) -> 16-bit uniforms strictly inside (0, 1), shape (..., 2W)."""
    halves = jnp.stack([bits >> HALF_BITS, bits & HALF_MASK], axis=-1)
    halves = halves.reshape(*bits.shape[:-1], 2 * bits.shape[-1])
    return (halves.astype(jnp.float32) + 0.5) * jnp.float32(HALF_SCALE)


class Draws:
    """Hands out consecutive uniforms of one step (static slicing at trace time)."""

    def __init__(self, uniforms: jax.Array):
        self.uniforms = uniforms
        self.used = 0

    def next(self) -> jax.Array:
        value = self.uniforms[self.used]
        self.used += 1
        return value


@struct.dataclass
class FlowParams:
    limit_probability: jax.Array  # float32, per limit slot
    cancel_rate: jax.Array  # float32, per resting unit, divided by the slots
    market_probability: jax.Array  # float32, uninformed, per side
    informed_probability: jax.Array  # float32
    hawkes_jump: jax.Array
    hawkes_decay: jax.Array
    distance_cdf: jax.Array  # float32 (max_distance,)
    size_cdf: jax.Array  # float32 (max_order_size,)
    fair_value_volatility: jax.Array
    jump_probability: jax.Array
    jump_size: jax.Array
    level_capacity: jax.Array  # int32


@struct.dataclass
class FlowOutcome:
    """What the agent and the statistics need from one flow step (per side arrays are (2,))."""

    agent_volume: jax.Array  # int32 (2,), units of the agent's bid / ask filled
    agent_notional: jax.Array  # int32 (2,), ticks * units
    agent_entry_ahead: jax.Array  # int32 (2,), units * queue position at entry
    market_volume: jax.Array  # int32 (2,), units bought / sold by takers
    events: jax.Array  # int32, active event slots


def power_law_cdf(max_distance: int, exponent: float) -> np.ndarray:
    weights = np.arange(1, max_distance + 1, dtype=np.float64) ** -exponent
    return (np.cumsum(weights) / weights.sum()).astype(np.float32)


def geometric_cdf(mean: float, max_size: int) -> np.ndarray:
    p = 1.0 / mean
    weights = p * (1.0 - p) ** np.arange(max_size, dtype=np.float64)
    return (np.cumsum(weights) / weights.sum()).astype(np.float32)


def from_cdf(u: jax.Array, cdf: jax.Array) -> jax.Array:
    """Inverse-CDF draw of 1..len(cdf) (int32), elementwise over the uniforms ``u``."""
    thresholds = cdf[:-1].reshape((-1,) + (1,) * jnp.ndim(u))
    return (1 + jnp.sum((u[None] > thresholds).astype(jnp.int32), axis=0)).astype(jnp.int32)


def draw_cancels(book: lob.Book, side: int, draws: Draws, p: FlowParams, slots: int) -> list[tuple]:
    """The side's cancellation slots, drawn on the volume at the start of the phase:
    ``(price, queue offset, size, active)`` per slot, inactive slots of size 0."""
    volume = book.volume[side]
    inclusive = lob.prefix_sum(volume)
    resting = inclusive[-1]
    probability = p.cancel_rate * resting.astype(jnp.float32) / slots
    drawn = []
    for _ in range(slots):
        active_u, unit_u, size_u = draws.next(), draws.next(), draws.next()
        active = active_u < probability
        unit = jnp.minimum((unit_u * resting.astype(jnp.float32)).astype(jnp.int32), resting - 1)
        passed = inclusive <= unit  # levels wholly before the unit
        drawn.append((book.origin + jnp.sum(passed.astype(jnp.int32), axis=0),
                      unit - jnp.sum(jnp.where(passed, volume, 0), axis=0),
                      jnp.where(active, from_cdf(size_u, p.size_cdf), 0), active))
    return drawn


def draw_limits(book: lob.Book, side: int, draws: Draws, p: FlowParams, mid: jax.Array, slots: int) -> list[tuple]:
    """The side's limit-order slots, priced from the opposite best price (from the mid when that
    side is empty): ``(price, size, active)`` per slot, inactive slots of size 0."""
    has_opposite, opposite = lob.best_price(book, 1 - side)
    if side == lob.BID:
        reference = jnp.where(has_opposite, opposite, jnp.floor(mid).astype(jnp.int32) + 1)
    else:
        reference = jnp.where(has_opposite, opposite, jnp.ceil(mid).astype(jnp.int32) - 1)
    direction = -1 if side == lob.BID else 1
    drawn = []
    for _ in range(slots):
        active_u, distance_u, size_u = draws.next(), draws.next(), draws.next()
        active = active_u < p.limit_probability
        drawn.append((reference + direction * from_cdf(distance_u, p.distance_cdf),
                      jnp.where(active, from_cdf(size_u, p.size_cdf), 0), active))
    return drawn


def draw_takers(draws: Draws, p: FlowParams, fair_value: jax.Array, excitation: jax.Array):
    """The uninformed market buy and sell ``[(active, size)]`` per side, the informed trader's
    size, and its limit per side: it buys strictly below the fair value V (ceil(V) - 1) and
    sells strictly above it (floor(V) + 1)."""
    market = []
    for side in (lob.BID, lob.ASK):
        active_u, size_u = draws.next(), draws.next()
        active = active_u < p.market_probability + excitation[side]
        market.append((active, jnp.where(active, from_cdf(size_u, p.size_cdf), 0)))
    active_u, size_u = draws.next(), draws.next()
    informed_size = jnp.where(active_u < p.informed_probability, from_cdf(size_u, p.size_cdf), 0)
    limits = (jnp.ceil(fair_value).astype(jnp.int32) - 1, jnp.floor(fair_value).astype(jnp.int32) + 1)
    return market, informed_size, limits


def _cancels(book: lob.Book, side: int, draws: Draws, p: FlowParams, slots: int):
    drawn = draw_cancels(book, side, draws, p, slots)
    prices, offsets, sizes, fired = (list(column) for column in zip(*drawn))
    prices, sizes, offsets = lob.materialised((jnp.stack(prices), jnp.stack(sizes), jnp.stack(offsets)))
    book = lob.cancel_batch(book, side, prices, sizes, offsets)
    return book, fired


def _limits(book: lob.Book, side: int, draws: Draws, p: FlowParams, mid: jax.Array, slots: int):
    drawn = draw_limits(book, side, draws, p, mid, slots)
    prices, sizes, fired = (list(column) for column in zip(*drawn))
    prices, sizes = lob.materialised((jnp.stack(prices), jnp.stack(sizes)))
    book = lob.post_batch(book, side, prices, sizes, p.level_capacity)
    return book, fired


def _collect(total: FlowOutcome, trade: lob.Trade, side: int) -> FlowOutcome:
    resting = 1 - side
    return total.replace(
        agent_volume=total.agent_volume.at[resting].add(trade.agent_volume),
        agent_notional=total.agent_notional.at[resting].add(trade.agent_volume * trade.agent_price),
        agent_entry_ahead=total.agent_entry_ahead.at[resting].add(
            trade.agent_volume * trade.agent_entry_ahead),
        market_volume=total.market_volume.at[side].add(trade.volume))


def _takers(book, draws, p: FlowParams, fair_value, excitation, total):
    """Uninformed market buy and sell, then the informed IOC order: one walk per side
    (``lob.take_then_sweep``); the informed trader trades when the best price left after
    the market order is on the right side of the fair value."""
    market, informed_size, limits = lob.materialised(draw_takers(draws, p, fair_value, excitation))
    arrivals = []
    for side in (lob.BID, lob.ASK):
        active, size = market[side]
        book, trade, informed = lob.take_then_sweep(book, side, size, informed_size, limits[side])
        total = _collect(total, trade, side)
        arrivals.append(active | informed)
    return book, total, jnp.stack(arrivals)


def fair_value_step(fair_value: jax.Array, draws: Draws, p: FlowParams) -> jax.Array:
    shock_u, jump_u, sign_u = draws.next(), draws.next(), draws.next()
    shock = jax.scipy.special.ndtri(shock_u)
    jump = jnp.where(jump_u < p.jump_probability, jnp.where(sign_u < 0.5, -p.jump_size, p.jump_size), 0.0)
    return fair_value + p.fair_value_volatility * shock + jump


def flow_step(book: lob.Book, uniforms: jax.Array, p: FlowParams, mid: jax.Array,
              fair_value: jax.Array, excitation: jax.Array, limit_slots: int, cancel_slots: int):
    """One step of background flow. Returns (book, fair value, excitation, outcome)."""
    draws = Draws(uniforms)
    zeros = jnp.zeros((lob.NUM_SIDES,) + lob.batch_shape(book), jnp.int32)
    total = FlowOutcome(agent_volume=zeros, agent_notional=zeros, agent_entry_ahead=zeros,
                        market_volume=zeros, events=zeros[0])
    fired = []
    for side in (lob.BID, lob.ASK):
        book, active = _cancels(book, side, draws, p, cancel_slots)
        fired += active
    for side in (lob.BID, lob.ASK):
        book, active = _limits(book, side, draws, p, mid, limit_slots)
        fired += active
    fair_value = fair_value_step(fair_value, draws, p)
    book, total, arrivals = _takers(book, draws, p, fair_value, excitation, total)
    excitation = p.hawkes_decay * excitation + p.hawkes_jump * arrivals.astype(jnp.float32)
    events = jnp.sum(jnp.stack(fired).astype(jnp.int32), axis=0) + jnp.sum(arrivals.astype(jnp.int32), axis=0)
    assert draws.used == flow_uniforms(limit_slots, cancel_slots)
    return book, fair_value, excitation, total.replace(events=events)
