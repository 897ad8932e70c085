"""What every jaxmm environment offers beyond the gymnax 1.0 ``Environment`` API.

* ``sample_noise(key, batch_shape)`` / ``transition(noise, state, action, params)``:
  the step split into "draw all random numbers" and "apply them". ``step_env``
  is the two composed. Batched rollouts draw the noise of a whole batch with one
  call, which is much cheaper than a key split per environment and quantity.
* ``policy_inputs(state, params)``: (time remaining, inventory) for closed-form policies.
* ``quote_model(params)``: the (sigma, A, k, ...) that closed-form policies need.
* ``depths_to_action(bid_depth, ask_depth, params, inventory)``: a closed-form quote as an
  action (``inventory``: what the policy knows of it, for actions defined relative to it).

``info`` of every step holds at least the keys in ``INFO_KEYS``; evaluation sums
every scalar entry of ``info`` over an episode, so environments add their own
metrics by adding scalar entries.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from gymnax.environments import environment

# Keys every environment's step ``info`` carries (all float32 scalars except
# ``reward_components``, a vector).
INFO_KEYS = (
    "reward_components",  # vector of signed components; reward = weights . components
    "pnl",  # cumulative mark-to-market wealth change since reset
    "inventory",  # inventory after the step
    "bid_fill",  # quantity bought this step
    "ask_fill",  # quantity sold this step
    "bid_quoted",  # 1 if a bid was live this step
    "ask_quoted",  # 1 if an ask was live this step
    "spread",  # quoted bid-ask spread when both sides are live, else 0
)


class QuoteModel(NamedTuple):
    """Parameters of the Avellaneda-Stoikov model a closed-form policy needs (float32 leaves)."""

    volatility: jax.Array
    arrival_rate: jax.Array
    fill_decay: jax.Array
    horizon: jax.Array
    dt: jax.Array
    drift: jax.Array
    max_inventory: jax.Array


class MarketEnv(environment.Environment):
    """Base class: gymnax environment with a split noise/transition step.

    The environment object is a static argument of jitted functions. Its instance
    attributes are its static settings (shapes, counts, flags; everything numeric
    lives in the params pytree), so equal attributes mean equal (and equally hashed)
    environments, which share compiled code.
    """

    def static_settings(self) -> tuple:
        return tuple(sorted(vars(self).items()))

    def __hash__(self) -> int:
        return hash((type(self), self.static_settings()))

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self) and other.static_settings() == self.static_settings()

    def sample_noise(self, key: jax.Array, batch_shape: tuple[int, ...] = ()) -> Any:
        """Random numbers for one step of ``batch_shape`` environments (default: keys)."""
        if not batch_shape:
            return key
        return jax.random.split(key, batch_shape)

    def transition(self, noise: Any, state: Any, action: Any, params: Any):
        raise NotImplementedError

    def step_env(self, key, state, action, params):
        return self.transition(self.sample_noise(key), state, action, params)

    def policy_inputs(self, state: Any, params: Any) -> tuple[jax.Array, jax.Array]:
        raise NotImplementedError

    def quote_model(self, params: Any) -> QuoteModel:
        raise NotImplementedError

    def depths_to_action(self, bid_depth: jax.Array, ask_depth: jax.Array, params: Any,
                         inventory: jax.Array | None = None) -> Any:
        raise NotImplementedError

    def is_terminated(self, state, params) -> jax.Array:
        return jnp.array(False)
