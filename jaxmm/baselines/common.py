"""Pieces shared by the baseline policies: the quoting ``act``, time-grid lookup, initial inventories.

Closed-form baselines read only what every environment offers for them
(``MarketEnv.policy_inputs``, ``quote_model`` and ``depths_to_action``), so they
run on any environment that implements those three.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxmm.envs.base import QuoteModel

# depths(params, time_remaining, inventory, quote_model) -> (bid_depth, ask_depth)
DepthFn = Callable[[Any, jax.Array, jax.Array, QuoteModel], tuple[jax.Array, jax.Array]]


@dataclasses.dataclass(frozen=True)
class QuotingAct:
    """``act`` of a policy whose quotes are a function of (time remaining, inventory).

    A frozen dataclass rather than a closure: equal environments and depth
    functions give equal (and equally hashed) ``act`` objects, so jitted
    rollouts that take ``act`` as a static argument compile once per kind of
    policy, whatever its parameters.
    """

    env: Any
    depths: DepthFn

    def __call__(self, params, key, obs, state, env_params):
        time_remaining, inventory = self.env.policy_inputs(state, env_params)
        bid, ask = self.depths(params, time_remaining, inventory, self.env.quote_model(env_params))
        return self.env.depths_to_action(jnp.asarray(bid, jnp.float32), jnp.asarray(ask, jnp.float32),
                                         env_params, inventory)


def step_index(time_remaining: jax.Array, model: QuoteModel, num_rows: int) -> jax.Array:
    """Index n of the time grid t_n = n * dt for the given time remaining, clipped to the table."""
    elapsed_steps = (model.horizon - time_remaining) / model.dt
    return jnp.clip(jnp.round(elapsed_steps).astype(jnp.int32), 0, num_rows - 1)


def inventory_index(inventory: jax.Array, max_inventory: int) -> jax.Array:
    """Column of inventory q in a table over {-max_inventory, ..., max_inventory}."""
    return jnp.clip(inventory.astype(jnp.int32) + max_inventory, 0, 2 * max_inventory)


def initial_inventories(env_params: Any) -> np.ndarray:
    """The initial inventories, drawn uniformly by ``reset``: every integer in [low, high]."""
    return np.arange(int(env_params.inventory_low), int(env_params.inventory_high) + 1)


def num_steps(env_params: Any) -> int:
    return int(env_params.max_steps_in_episode)
