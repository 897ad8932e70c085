"""The agent's orders: decoding an action, the latency pipeline, applying an order message.

An action (continuous, or a row of the discrete action table) is the float32
vector ``(bid offset, ask offset, bid size, ask size, reduce fraction)``:
offsets in ticks from the mid (or the touch), rounded away from the mid onto the
tick grid; an offset above ``max_quote_offset`` or not finite, or a size that
rounds to 0, means no quote on that side. ``reduce fraction`` in [0, 1] sends a
market order for that share of the inventory, towards zero.

The action becomes an order *message* with absolute tick prices at send time.
It reaches the book ``latency`` (+ uniform jitter) steps later through a ring
buffer in the state; a later message arriving at the same step replaces an
earlier one. On arrival, per side: a quote at the price of the resting order
keeps its queue position (its size may shrink in place, never grow); a different
price cancels and re-enters at the back; no quote cancels. Quotes are post-only:
a price that would cross slides to one tick inside the opposite best.
Inventory limit, checked on arrival with the inventory as it is then: the market
order only reduces |q|; bid size <= max_inventory - q, ask size <= max_inventory + q
(after the market order), so fills can never push |q| past the limit.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxmm.envs.lob import book as lob

ACTION_DIM = 5  # bid offset, ask offset, bid size, ask size, reduce fraction
BID_OFFSET, ASK_OFFSET, BID_SIZE, ASK_SIZE, REDUCE = range(ACTION_DIM)
MESSAGE_DIM = 5  # bid price, ask price, bid size, ask size, signed market quantity (+ buy)
BID_PRICE, ASK_PRICE, M_BID_SIZE, M_ASK_SIZE, MARKET_QTY = range(MESSAGE_DIM)


@struct.dataclass
class AgentOutcome:
    messages: jax.Array  # int32, orders sent plus orders cancelled (order-management count)
    taker_volume: jax.Array  # int32, units traded by the agent's market order
    taker_notional: jax.Array  # int32, ticks * units, signed (+ bought)
    taker_signed: jax.Array  # int32, signed units (+ bought)


def orient(action: jax.Array, inventory: jax.Array) -> jax.Array:
    """An inventory-relative action (first offset and size: the side that reduces |q|;
    second: the side that adds to it; flat: both sides take the second) as a (bid, ask)
    action vector."""
    action = jnp.asarray(action, jnp.float32)
    reduce_bid, reduce_ask = inventory < 0, inventory > 0
    bid = (jnp.where(reduce_bid, action[BID_OFFSET], action[ASK_OFFSET]),
           jnp.where(reduce_bid, action[BID_SIZE], action[ASK_SIZE]))
    ask = (jnp.where(reduce_ask, action[BID_OFFSET], action[ASK_OFFSET]),
           jnp.where(reduce_ask, action[BID_SIZE], action[ASK_SIZE]))
    return action.at[BID_OFFSET].set(bid[0]).at[BID_SIZE].set(bid[1]) \
        .at[ASK_OFFSET].set(ask[0]).at[ASK_SIZE].set(ask[1])


def decode(action: jax.Array, mid: jax.Array, best_bid: jax.Array, best_ask: jax.Array,
           inventory: jax.Array, max_quote_offset: jax.Array, max_quote_size: jax.Array,
           from_touch: bool) -> jax.Array:
    """Action vector -> int32 order message with absolute prices (ticks)."""
    action = jnp.asarray(action, jnp.float32)
    bid_offset, ask_offset = action[BID_OFFSET], action[ASK_OFFSET]
    bid_ref = best_bid.astype(jnp.float32) if from_touch else mid
    ask_ref = best_ask.astype(jnp.float32) if from_touch else mid
    bid_live = jnp.isfinite(bid_offset) & (bid_offset <= max_quote_offset)
    ask_live = jnp.isfinite(ask_offset) & (ask_offset <= max_quote_offset)
    bid_price = jnp.floor(bid_ref - jnp.where(bid_live, bid_offset, 0.0)).astype(jnp.int32)
    ask_price = jnp.ceil(ask_ref + jnp.where(ask_live, ask_offset, 0.0)).astype(jnp.int32)

    def size(x, live):
        x = jnp.where(jnp.isfinite(x), x, 0.0)
        rounded = jnp.clip(jnp.round(x), 0, max_quote_size.astype(jnp.float32)).astype(jnp.int32)
        return jnp.where(live, rounded, 0)

    bid_size = size(action[BID_SIZE], bid_live)
    ask_size = size(action[ASK_SIZE], ask_live)
    fraction = jnp.clip(jnp.where(jnp.isfinite(action[REDUCE]), action[REDUCE], 0.0), 0.0, 1.0)
    reduce = jnp.round(fraction * jnp.abs(inventory).astype(jnp.float32)).astype(jnp.int32)
    market_qty = -jnp.sign(inventory) * reduce
    return jnp.stack([bid_price, ask_price, bid_size, ask_size, market_qty]).astype(jnp.int32)


def send(pending: jax.Array, pending_valid: jax.Array, message: jax.Array, time: jax.Array,
         delay: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Put a message in the ring buffer slot of the step it arrives at."""
    slot = (time + delay) % pending.shape[0]
    return pending.at[slot].set(message), pending_valid.at[slot].set(True)


def receive(pending: jax.Array, pending_valid: jax.Array, time: jax.Array):
    """The message arriving now (if any) and the buffer with its slot cleared."""
    slot = time % pending.shape[0]
    return pending[slot], pending_valid[slot], pending_valid.at[slot].set(False)


def _quote(book: lob.Book, side: int, price: jax.Array, size: jax.Array, arrived: jax.Array,
           capacity: jax.Array):
    """Apply one side of an arrived message. Returns (book, messages counted)."""
    has_opposite, opposite = lob.best_price(book, 1 - side)
    if side == lob.BID:  # post-only slide
        price = jnp.where(has_opposite, jnp.minimum(price, opposite - 1), price)
    else:
        price = jnp.where(has_opposite, jnp.maximum(price, opposite + 1), price)
    active = book.agent_active[side]
    keep = arrived & active & (size > 0) & (book.agent_price[side] == price)
    drop = arrived & active & ~keep
    kept_size = jnp.where(keep, jnp.minimum(book.agent_size[side], size), book.agent_size[side])
    book = book.replace(  # a dropped order is cancelled, as lob.agent_cancel does
        agent_active=book.agent_active.at[side].set(active & ~drop),
        agent_size=book.agent_size.at[side].set(jnp.where(drop, 0, kept_size)))
    place = arrived & ~keep & (size > 0)
    book, _ = lob.agent_post(book, side, price, jnp.where(place, size, 0), capacity)
    return book, drop.astype(jnp.int32) + place.astype(jnp.int32)


def market_order_per_side(book: lob.Book, qty: jax.Array):
    """The agent's market order of signed size ``qty`` (+ buy) as written for one book: a walk
    per side. Returns (book, signed units, signed notional)."""
    book, bought = lob.agent_take(book, lob.BID, jnp.maximum(qty, 0))
    book, sold = lob.agent_take(book, lob.ASK, jnp.maximum(-qty, 0))
    return book, bought.volume - sold.volume, bought.notional - sold.notional


def _no_market_order(book: lob.Book, qty: jax.Array):
    """What a market order of size 0 on every book does: nothing."""
    return book, jnp.zeros_like(qty), jnp.zeros_like(qty)


def apply_message(book: lob.Book, message: jax.Array, arrived: jax.Array, capacity: jax.Array,
                  inventory: jax.Array, max_inventory: jax.Array) -> tuple[lob.Book, AgentOutcome]:
    """The market order first (clipped so it only reduces the inventory as it is now), then
    the quotes, sized to the inventory room left after it."""
    qty = jnp.where(arrived, message[MARKET_QTY], 0)
    qty = jnp.where(inventory > 0, jnp.clip(qty, -inventory, 0), jnp.clip(qty, 0, -inventory))
    if lob.batch_shape(book):
        # A whole batch at once (levels x batch layout): one walk with the side chosen per
        # book, and none at all when no book has a market order this step (the walks are
        # otherwise up to half of a large batch's step, BENCHMARKS "Book layouts"; under a
        # further vmap the cond is a select).
        book, signed, notional = jax.lax.cond(jnp.any(qty != 0), lob.agent_market_order, _no_market_order,
                                              book, qty)
    else:
        book, signed, notional = market_order_per_side(book, qty)
    inventory = inventory + signed
    rooms = (max_inventory - inventory, max_inventory + inventory)
    messages = (qty != 0).astype(jnp.int32)
    for side, price_key, size_key in ((lob.BID, BID_PRICE, M_BID_SIZE), (lob.ASK, ASK_PRICE, M_ASK_SIZE)):
        size = jnp.minimum(message[size_key], jnp.maximum(rooms[side], 0))
        book, count = _quote(book, side, message[price_key], size, arrived, capacity)
        messages = messages + count
    outcome = AgentOutcome(messages=messages, taker_volume=jnp.abs(signed), taker_notional=notional,
                           taker_signed=signed)
    return book, outcome
