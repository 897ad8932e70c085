"""Observation of the order-book environment and the running statistics it needs.

Layout (float32): top ``L`` total volumes per side from the best price outward
(bids then asks, divided by ``volume_scale``), spread (ticks), top-of-book
imbalance, microprice minus mid (ticks), the last ``lags`` mid changes (ticks),
realised volatility (ticks, EWMA), trade-flow imbalance (EWMA of signed taker
volume / ``volume_scale``), the inventory the agent knows of (delayed by the
latency, / max_inventory), per side its resting order (live flag, distance from
the mid in ticks, size / max_quote_size, queue ahead / volume_scale), time remaining.

The book features take one book or a batch in the levels x batch layout (features
first, then the batch).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxmm.envs.lob import book as lob

STATS_DECAY = 0.9  # per-step EWMA factor of realised variance and trade-flow imbalance
SCALARS = 3  # spread, imbalance, microprice offset
STATS = 2  # realised volatility, trade-flow imbalance
ORDER_FEATURES = 4  # live, distance from mid, size, queue ahead
TAIL = 2  # known inventory, time remaining


def observation_size(visible_levels: int, lags: int) -> int:
    return 2 * visible_levels + SCALARS + lags + STATS + lob.NUM_SIDES * ORDER_FEATURES + TAIL


def depth_profile(book: lob.Book, visible_levels: int) -> jax.Array:
    """Total volume at the best price and the next levels outward, int32 (2, L, *batch)."""
    rows = []
    steps = lob.level_column(visible_levels, len(lob.batch_shape(book)))
    for side in (lob.BID, lob.ASK):
        has, best = lob.best_index(book, side)
        idx = best - steps if side == lob.BID else best + steps
        valid = has & (idx >= 0) & (idx < lob.num_levels(book))
        rows.append(jnp.where(valid, lob.at_levels(lob.total_volume(book, side), idx), 0))
    return jnp.stack(rows)


def mid_price(book: lob.Book, last_mid: jax.Array) -> jax.Array:
    """(best bid + best ask) / 2 in ticks, or the last mid when a side is empty."""
    has_bid, bid = lob.best_price(book, lob.BID)
    has_ask, ask = lob.best_price(book, lob.ASK)
    mid = 0.5 * (bid + ask).astype(jnp.float32)
    return jnp.where(has_bid & has_ask, mid, last_mid)


def book_features(book: lob.Book, mid: jax.Array, visible_levels: int, volume_scale) -> jax.Array:
    profile = depth_profile(book, visible_levels)
    has_bid, bid = lob.best_price(book, lob.BID)
    has_ask, ask = lob.best_price(book, lob.ASK)
    both = has_bid & has_ask
    spread = jnp.where(both, (ask - bid).astype(jnp.float32), 0.0)
    top_bid, top_ask = profile[lob.BID, 0].astype(jnp.float32), profile[lob.ASK, 0].astype(jnp.float32)
    top = top_bid + top_ask
    safe_top = jnp.where(top > 0, top, 1.0)
    imbalance = jnp.where(both, (top_bid - top_ask) / safe_top, 0.0)
    micro = (ask.astype(jnp.float32) * top_bid + bid.astype(jnp.float32) * top_ask) / safe_top
    micro_offset = jnp.where(both, micro - mid, 0.0)
    volumes = profile.reshape((-1,) + lob.batch_shape(book)).astype(jnp.float32) / volume_scale
    return jnp.concatenate([volumes, jnp.stack([spread, imbalance, micro_offset])])


def order_features(book: lob.Book, mid: jax.Array, max_quote_size, volume_scale) -> jax.Array:
    live = book.agent_active.astype(jnp.float32)
    distance = jnp.abs(book.agent_price.astype(jnp.float32) - mid)
    size = book.agent_size.astype(jnp.float32) / max_quote_size
    ahead = book.agent_ahead.astype(jnp.float32) / volume_scale
    features = jnp.stack([live, live * distance, live * size, live * ahead], axis=1)
    return features.reshape((-1,) + lob.batch_shape(book))


def update_returns(returns: jax.Array, change: jax.Array) -> jax.Array:
    if returns.shape[0] == 0:
        return returns
    return jnp.concatenate([change[None], returns[:-1]])


def ewma(previous: jax.Array, value: jax.Array) -> jax.Array:
    return STATS_DECAY * previous + (1.0 - STATS_DECAY) * value
