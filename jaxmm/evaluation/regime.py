"""A scenario's environment parameters over an episode, as data: a regime switch and a drift.

``ScenarioParams`` holds two ``EnvParams`` of the same environment and shapes, the step
from which the second applies, and a drift added to the latent fair value after every
step (the order book's informed traders trade towards it, so the mid trends; the model
environment has its own ``env.drift``). Scenarios that differ only in these values are
stacked along a leading axis and vmapped in one compiled program; a scenario without a
switch has ``after == before`` and ``switch_step`` = ``NEVER``.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import struct

NEVER = jnp.iinfo(jnp.int32).max  # switch step of a scenario without a switch


@struct.dataclass
class ScenarioParams:
    before: Any  # EnvParams from reset
    after: Any  # EnvParams from step ``switch_step`` on (same tree and shapes as ``before``)
    switch_step: jax.Array  # int32
    fair_value_drift: jax.Array  # float32, ticks per step added to the latent fair value


def constant(params: Any) -> ScenarioParams:
    """The same parameters all episode long, no drift."""
    return ScenarioParams(before=params, after=params, switch_step=jnp.int32(NEVER),
                          fair_value_drift=jnp.float32(0.0))


def switching(before: Any, after: Any, step: int | None, drift: float = 0.0) -> ScenarioParams:
    """``before`` until ``step`` (0-based), then ``after``; ``step`` None: no switch."""
    if step is None:
        after, step = before, NEVER
    if jax.tree.structure(before) != jax.tree.structure(after) or any(
            jnp.shape(a) != jnp.shape(b) for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after))):
        raise ValueError("a regime switch needs parameters of the same shapes before and after")
    return ScenarioParams(before=before, after=after, switch_step=jnp.int32(step),
                          fair_value_drift=jnp.float32(drift))


def active(scenario: ScenarioParams, t: jax.Array) -> Any:
    """The environment parameters in force at step ``t``."""
    late = t >= scenario.switch_step
    return jax.tree.map(lambda a, b: jnp.where(late, b, a), scenario.before, scenario.after)


def apply_drift(scenario: ScenarioParams, state: Any) -> Any:
    """The state after a step, its latent fair value moved by the drift (if it has one)."""
    if not hasattr(state, "fair_value"):
        return state
    return state.replace(fair_value=state.fair_value + scenario.fair_value_drift)


def stack(scenarios: Sequence[ScenarioParams]) -> ScenarioParams:
    """Scenario parameters with a leading scenario axis (all of the same shapes)."""
    return jax.tree.map(lambda *x: jnp.stack(x), *scenarios)


def has_drift(scenario: ScenarioParams) -> bool:
    return bool(jnp.any(scenario.fair_value_drift != 0))
