"""Constant quotes: bid and ask both at ``policy.fixed_depth`` from the mid.

* ``fixed_spread``: always both sides.
* ``inventory_capped``: the same quotes, but no bid while the inventory is at or above
  ``policy.inventory_cap`` and no ask while it is at or below ``-inventory_cap`` (the
  inventory-limit heuristic of practitioners: quote at the touch, stop adding to a
  position past the cap).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxmm.baselines.common import QuotingAct
from jaxmm.envs.base import QuoteModel
from jaxmm.policy import Policy


class FixedDepth(NamedTuple):
    depth: jax.Array  # float32, price units from the mid on each side


def fixed_depths(params: FixedDepth, time_remaining, inventory, model: QuoteModel):
    return params.depth, params.depth


class CappedDepth(NamedTuple):
    depth: jax.Array  # float32, price units from the mid on each side
    cap: jax.Array  # float32, |inventory| at which the side that would add to it is withdrawn


def capped_depths(params: CappedDepth, time_remaining, inventory, model: QuoteModel):
    q = jnp.asarray(inventory, jnp.float32)
    bid = jnp.where(q >= params.cap, jnp.inf, params.depth)
    ask = jnp.where(q <= -params.cap, jnp.inf, params.depth)
    return bid, ask


def make_inventory_capped(config, env, env_params) -> Policy:
    params = CappedDepth(jnp.float32(config.policy.fixed_depth), jnp.float32(config.policy.inventory_cap))
    return Policy("inventory_capped", QuotingAct(env, capped_depths), params)


def make_fixed_spread(config, env, env_params) -> Policy:
    return Policy("fixed_spread", QuotingAct(env, fixed_depths), FixedDepth(jnp.float32(config.policy.fixed_depth)))
