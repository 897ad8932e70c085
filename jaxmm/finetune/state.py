"""The fine-tune's training state and its compiled chunk.

A fine-tune starts from a *fresh* learner state for the window's environment (environment
states, episode trackers, PRNG key, counters, replay buffer: all new) into which the parent's
policy is grafted: network, optimiser state and observation normaliser (PPO: ``params``,
``opt_state``, ``norm``; DQN: ``online``, ``target``, ``opt_state``, ``normalizer``). The
update counter starts at 0, so the fine-tune's own learning-rate schedule runs from its start.

:class:`FinetuneState` holds the learner state, the anchor (the restored parameters) and the
anchor weight, all with a leading member axis (one member). Its chunk is the learner's chunk
followed by the pull toward the anchor (``finetune.anchor_weight``, see
:class:`~jaxmm.finetune.config.FinetuneConfig`); the environment parameters, the
hyperparameters and the anchor weight are leaves, so windows, rates and weights change data
and :class:`Trainer` compiles its chunk once.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxmm.errors import ConfigError
from jaxmm.finetune.environments import ALLOWED
from jaxmm.sweeps.stacking import member, stack

# Times the fine-tune chunk has been traced in this process (each trace is a compile): the tests
# check that a walk over many windows traces it once.
CHUNK_TRACES = {"count": 0}
CARRIED_FIELDS = ("params", "opt_state", "norm", "online", "target", "normalizer")
ANCHORED_FIELDS = ("params", "online")  # the network the policy acts with


@struct.dataclass
class FinetuneState:
    learner: Any  # the learner's state, leading member axis
    anchor: Any  # the restored network parameters
    anchor_weight: jax.Array  # float32 (members,)


def carried_fields(state) -> tuple[str, ...]:
    return tuple(name for name in CARRIED_FIELDS if hasattr(state, name))


def anchored_field(state) -> str:
    return next(name for name in ANCHORED_FIELDS if hasattr(state, name))


def _field(source, name: str):
    return source[name] if isinstance(source, dict) else getattr(source, name)


def graft(source, target):
    """``target`` with the policy of ``source`` (a learner state, or a dict of its carried fields):
    network, optimiser, normaliser."""
    return target.replace(**{name: _field(source, name) for name in carried_fields(target)})


def _shapes(tree) -> list[tuple[str, tuple]]:
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [(jax.tree_util.keystr(path), tuple(np.shape(leaf))) for path, leaf in flat]


def check_network(label: str, restored, fresh) -> None:
    """One line naming the first network leaf whose shape differs (the network must be the parent's)."""
    for name in carried_fields(fresh):
        old, new = _shapes(_field(restored, name)), _shapes(getattr(fresh, name))
        for (path, shape), (new_path, new_shape) in zip(old, new):
            if path != new_path or shape != new_shape:
                raise ConfigError(f"{label}: the network differs: {name}{path} has shape {shape} in the parent, "
                                  f"{new_path} {new_shape} in the fine-tune; {ALLOWED}")
        if len(old) != len(new):
            raise ConfigError(f"{label}: the network differs: {name} has {len(old)} arrays in the parent, "
                              f"{len(new)} in the fine-tune; {ALLOWED}")


def _pull(weight, params, anchor):
    return jax.tree.map(lambda p, a: (p + weight * a) / (1.0 + weight), params, anchor)


def anchored_chunk(learner):
    """The learner's chunk followed by the proximal pull toward the anchor (one member, unbatched)."""

    def chunk(state: FinetuneState):
        CHUNK_TRACES["count"] += 1
        new, metrics = learner.chunk(state.learner)
        field = anchored_field(new)
        pulled = _pull(state.anchor_weight, getattr(new, field), state.anchor)
        distance = jnp.sqrt(sum(jnp.sum((p - a) ** 2) for p, a in zip(jax.tree.leaves(pulled),
                                                                       jax.tree.leaves(state.anchor))))
        new = new.replace(**{field: pulled})
        return state.replace(learner=new), {**metrics, "anchor_distance": distance}

    return chunk


class Trainer:
    """The static pieces of one environment kind (env object, learner) and the compiled chunk that
    every window of that kind shares."""

    def __init__(self, population):
        self.population = population
        self.env = population.env
        self.learner = population.learner
        self._init = jax.jit(jax.vmap(self.learner.init))
        self.run_chunk = jax.jit(jax.vmap(anchored_chunk(self.learner)))

    @property
    def steps_per_chunk(self) -> int:
        return self.learner.env_steps_per_chunk

    def chunks(self, env_steps: int) -> int:
        return max(math.ceil(env_steps / self.steps_per_chunk), 1)

    def accepts(self, env, env_params) -> bool:
        """Whether a window's environment runs in this trainer's compiled program."""
        from jaxmm.sweeps.members import _signature

        return env == self.env and _signature(env_params) == _signature(self.population.member_env_params(0))

    def fresh(self, config, env_params, seed: int):
        """A new stacked learner state (one member) for ``env_params`` and ``config``'s hyperparameters."""
        keys = jnp.stack([jax.random.PRNGKey(seed)])
        return self._init(keys, stack([env_params]), stack([self.learner.hyper(config)]))

    def start(self, config, env_params, seed: int, restored=None, anchor_weight: float = 0.0,
              label: str = "fine-tune") -> FinetuneState:
        """The starting state: fresh, with ``restored``'s policy grafted when given (a stacked learner
        state, or a dict of its carried fields)."""
        state = self.fresh(config, env_params, seed)
        if restored is not None:
            check_network(label, member(restored, 0), member(state, 0))
            state = graft(restored, state)
        anchor = getattr(state, anchored_field(state))
        start = FinetuneState(learner=state, anchor=anchor, anchor_weight=jnp.full((1,), anchor_weight, jnp.float32))
        # Every leaf committed to the device, restored or fresh: one compiled program for all starts.
        return jax.device_put(start, jax.devices()[0])

    def policy(self, state: FinetuneState):
        return self.learner.policy(member(state.learner, 0))
