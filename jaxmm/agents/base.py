"""The protocol every learner implements, so one outer loop trains them all.

``make_learner(config, env) -> Learner``. The learner closes over static
settings only (network shapes, ``num_envs``, loop counts, the environment
object); everything a sweep or a fine-tune may vary is data in the state:

* ``hyper(config) -> hyper``: the float hyperparameters of ``config`` as a pytree of
  scalars (learning-rate schedule, discount, clip ranges, exploration...).
* ``init(key, env_params, hyper) -> state``: the complete training state as one
  pytree: network and optimiser state, normaliser, environment states *and the
  environment parameters* (reward weights included), the hyperparameters, PRNG
  key, counters, replay buffer. Checkpointing saves exactly this pytree;
  restoring it and calling ``train_chunk`` again continues bit-for-bit.
* ``chunk(state) -> (state, metrics)``: pure, unjitted; runs a fixed number of
  updates (environment rollouts included) with ``lax.scan``. ``metrics`` is a
  flat dict of float32 scalars (``CHUNK_METRICS`` at least). A sweep is
  ``jax.jit(jax.vmap(chunk))`` over a leading member axis of the state.
* ``train_chunk``: ``jax.jit(chunk)``, for a single policy.
* ``env_steps_per_chunk``: environment transitions per chunk (per member).
* ``policy(state) -> Policy``: the deterministic policy for evaluation.
* ``env_axis_fields``: the state fields whose leaves carry the environment batch as
  their leading axis (split across devices when one policy runs on several).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from jaxmm.policy import Policy

# Metrics every learner reports per chunk (means over episodes that ended in the
# chunk; ``episodes`` counts them so the loop never logs a mean of nothing).
CHUNK_METRICS = ("episodes", "episode_reward", "episode_pnl", "episode_abs_inventory")
# State fields batched over environments in every learner.
ENV_AXIS_FIELDS = ("env_state", "obs", "tracker")


class Learner(NamedTuple):
    hyper: Callable[[Any], Any]
    init: Callable[[Any, Any, Any], Any]
    chunk: Callable[[Any], tuple[Any, dict]]
    train_chunk: Callable[[Any], tuple[Any, dict]]
    env_steps_per_chunk: int
    policy: Callable[[Any], Policy]
    env_axis_fields: tuple[str, ...] = ENV_AXIS_FIELDS
