"""The arithmetic of double DQN: n-step returns, targets, TD loss, target updates, schedules.

Episode endings are kept apart: a *terminated* transition has no future (its
discount is zero); a *truncated* one (the clock ran out) bootstraps from the
value of the observation it reached, ``info["final_observation"]``, which
gymnax's auto-reset would otherwise replace with the next episode's first one.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct


@struct.dataclass
class Transition:
    """One step of one environment (or, in the buffer, one n-step transition)."""

    obs: jax.Array  # float32 (obs_dim,)
    action: jax.Array  # int32
    reward: jax.Array  # float32; in the buffer: discounted sum over up to n steps
    next_obs: jax.Array  # float32 (obs_dim,): the observation to bootstrap from
    discount: jax.Array  # float32; one step: 1 - terminated; buffer: gamma^m (1 - terminated)
    done: jax.Array  # bool, the episode ended at this step (terminated or truncated)


def nstep_transition(window: Transition, gamma: jax.Array) -> Transition:
    """Collapse a window of consecutive steps (leading axis n, oldest first) into one.

    Rewards are summed until the first step that ends an episode (inclusive);
    the bootstrap observation and discount are those of that step, or of the
    last one when none ends the episode.
    """
    n = window.reward.shape[0]
    ended = window.done.astype(jnp.float32)
    # alive[i] = 1 while no earlier step of the window ended the episode.
    alive = jnp.cumprod(jnp.concatenate([jnp.ones((1,), jnp.float32), 1.0 - ended[:-1]]))
    powers = gamma ** jnp.arange(n, dtype=jnp.float32)
    last = (jnp.sum(alive) - 1.0).astype(jnp.int32)
    return Transition(
        obs=window.obs[0], action=window.action[0],
        reward=jnp.sum(alive * powers * window.reward),
        next_obs=window.next_obs[last],
        discount=gamma ** (last + 1).astype(jnp.float32) * window.discount[last],
        done=jnp.any(window.done))


def double_dqn_target(reward: jax.Array, discount: jax.Array, q_next_online: jax.Array,
                      q_next_target: jax.Array) -> jax.Array:
    """``r + discount * Q_target(s', argmax_a Q_online(s', a))`` for a batch (actions on the last axis)."""
    best = jnp.argmax(q_next_online, axis=-1)
    bootstrap = jnp.take_along_axis(q_next_target, best[..., None], axis=-1)[..., 0]
    return reward + discount * bootstrap


def td_loss(q_taken: jax.Array, target: jax.Array, kind: str, huber_delta: jax.Array) -> jax.Array:
    """Mean TD loss; the target is a constant (no gradient flows into it)."""
    error = q_taken - jax.lax.stop_gradient(target)
    if kind == "huber":
        return jnp.mean(optax.losses.huber_loss(error, delta=huber_delta))
    return jnp.mean(0.5 * error * error)


def update_target(target: Any, online: Any, step: jax.Array, period: jax.Array, tau: jax.Array) -> Any:
    """Every ``period`` gradient steps, move the target ``tau`` of the way to the online weights.

    ``tau = 1`` is a hard copy every ``period`` steps; ``period = 1`` with a
    small ``tau`` is Polyak averaging. ``step`` counts gradient steps done,
    this one included.
    """
    due = (step % period) == 0
    return jax.tree.map(lambda t, o: jnp.where(due, (1.0 - tau) * t + tau * o, t), target, online)


def linear_schedule(env_steps: jax.Array, start: jax.Array, end: jax.Array, decay_steps: jax.Array) -> jax.Array:
    """A value moving linearly from ``start`` to ``end`` over ``decay_steps`` environment steps, then held.

    Used for the exploration rate and the learning rate.
    """
    fraction = jnp.clip(env_steps.astype(jnp.float32) / decay_steps, 0.0, 1.0)
    return (start + fraction * (end - start)).astype(jnp.float32)
