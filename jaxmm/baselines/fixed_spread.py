"""Constant quotes: bid and ask both at ``policy.fixed_depth`` from the mid.

* ``fixed_spread``: always both sides.
* ``inventory_capped``: the same quotes, but no bid while the inventory is at or above
  ``policy.inventory_cap`` and no ask while it is at or below ``-inventory_cap`` (the
  inventory-limit heuristic of practitioners: quote at the touch, stop adding to a
  position past the cap).
* ``inventory_flattening`` (order book, continuous actions): ``inventory_capped`` that
  also sends a market order for the whole inventory it knows of once that reaches the cap,
  so its execution, latency and slippage show in the metrics.

On the order book a depth beyond ``env.max_quote_offset`` is no quote at all; such a
``policy.fixed_depth`` is an error naming the key, not an evaluation of a policy that
never quotes.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxmm.baselines.common import QuotingAct
from jaxmm.envs.base import QuoteModel
from jaxmm.errors import ConfigError
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


def check_depth_quotes(config, env, env_params, name: str) -> None:
    """One line if ``policy.fixed_depth`` can never rest a quote in the book of ``env``."""
    if getattr(env, "action_type", None) != "continuous" or not hasattr(env_params, "max_quote_offset"):
        return  # the model quotes any depth; a discrete book grid rounds it to its nearest row
    tick = float(env_params.tick_size)
    ticks = config.policy.fixed_depth / tick
    limit = float(env_params.max_quote_offset)
    if ticks > limit:
        raise ConfigError(
            f"{config.source}: policy.fixed_depth: {config.policy.fixed_depth:g} is {ticks:g} ticks of "
            f"{tick:g} from the mid, beyond env.max_quote_offset = {limit:g} ticks: {name} would never rest a "
            f"quote in the book; use at most {limit * tick:g} (e.g. {tick / 2:g}, half a tick: the touch of a "
            "one-tick book)")


def make_inventory_capped(config, env, env_params) -> Policy:
    check_depth_quotes(config, env, env_params, "inventory_capped")
    params = CappedDepth(jnp.float32(config.policy.fixed_depth), jnp.float32(config.policy.inventory_cap))
    return Policy("inventory_capped", QuotingAct(env, capped_depths), params)


def make_fixed_spread(config, env, env_params) -> Policy:
    check_depth_quotes(config, env, env_params, "fixed_spread")
    return Policy("fixed_spread", QuotingAct(env, fixed_depths), FixedDepth(jnp.float32(config.policy.fixed_depth)))


@dataclasses.dataclass(frozen=True)
class FlatteningAct:
    """``inventory_capped`` quotes plus a market order for all of the known inventory at the cap."""

    quoting: QuotingAct

    def __call__(self, params: CappedDepth, key, obs, state, env_params):
        from jaxmm.envs.lob.agent import REDUCE

        action = self.quoting(params, key, obs, state, env_params)
        _, inventory = self.quoting.env.policy_inputs(state, env_params)
        at_cap = jnp.abs(jnp.asarray(inventory, jnp.float32)) >= params.cap
        return action.at[REDUCE].set(at_cap.astype(jnp.float32))


def make_inventory_flattening(config, env, env_params) -> Policy:
    if getattr(env, "name", None) != "lob" or env.action_type != "continuous":
        raise ConfigError(f"{config.source}: inventory_flattening sends market orders through the order book's "
                          "continuous action; set env.name: lob and env.action_type: continuous")
    check_depth_quotes(config, env, env_params, "inventory_flattening")
    params = CappedDepth(jnp.float32(config.policy.fixed_depth), jnp.float32(config.policy.inventory_cap))
    return Policy("inventory_flattening", FlatteningAct(QuotingAct(env, capped_depths)), params)
