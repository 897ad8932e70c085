"""What one training run trains: the members of its sweep (one member for a plain run).

A :class:`Population` holds the static pieces (environment object, learner) and the
members' stacked inputs (PRNG keys, environment parameters, hyperparameters). Its
training state is the learner's state with a leading member axis; one compiled
``Population.chunk`` (``jax.vmap(learner.chunk)``; for one member the learner's own chunk)
trains every member, whatever their number.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax

from jaxmm.agents import make_learner
from jaxmm.agents.base import Learner
from jaxmm.config import Config
from jaxmm.envs import make_env
from jaxmm.policy import Policy
from jaxmm.sweeps import members as sweep_members
from jaxmm.sweeps.stacking import member, stack


@dataclasses.dataclass
class Population:
    config: Config
    members: list[sweep_members.Member]
    env: Any
    learner: Learner
    keys: jax.Array
    env_params: Any  # stacked along the member axis
    hypers: Any  # stacked along the member axis

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def swept_keys(self) -> tuple[str, ...]:
        return tuple(self.members[0].values)

    @property
    def is_sweep(self) -> bool:
        return bool(self.swept_keys)

    def init(self) -> Any:
        """The stacked initial training state of every member, one member after another.

        Not ``vmap``: the members' orthogonal initialisations would become batched QRs, and
        jaxlib 0.10's CPU QR splits a batch over the same thread pool that runs independent
        operations concurrently; two batched QRs (two layers) then each hold a pool thread
        waiting for tasks queued behind the other, and on a 2-core pool the process deadlocks
        with every thread asleep. One member at a time, each QR is a single matrix.
        """
        def init_one(inputs):
            return self.learner.init(*inputs)

        return jax.jit(lambda inputs: jax.lax.map(init_one, inputs))((self.keys, self.env_params, self.hypers))

    def chunk(self, state: Any) -> tuple[Any, dict]:
        """The learner's chunk over the leading member axis of ``state`` (and of the metrics).

        Several members: ``jax.vmap``. One member: the learner's chunk on the state without
        its member axis, the axis put back after; a vmap over a single member cost PPO on the
        book about a tenth of its throughput (BENCHMARKS, learner throughput)."""
        if self.size > 1:
            return jax.vmap(self.learner.chunk)(state)
        return stack([self.learner.chunk(member(state, 0))])

    def member_env_params(self, index: int) -> Any:
        return member(self.env_params, index)

    def policy(self, state: Any, index: int) -> Policy:
        """Member ``index``'s deterministic policy, named ``<algo>`` (or ``<algo>#member=K`` in a sweep)."""
        policy = self.learner.policy(member(state, index))
        if self.is_sweep:
            policy = policy._replace(name=f"{policy.name}#member={index}")
        return policy


def build_population(config: Config) -> Population:
    env, env_params = make_env(config)
    learner = make_learner(config, env)
    members = sweep_members.expand(config, learner)
    keys, params, hypers = sweep_members.stacked_inputs(members, learner, env, env_params, make_env)
    return Population(config, members, env, learner, keys, params, hypers)
