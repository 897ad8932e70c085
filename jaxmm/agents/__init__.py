"""Learners (PPO, DQN) behind one protocol, see :mod:`jaxmm.agents.base`."""

from __future__ import annotations

import importlib

# train.algo -> "module:function" make_learner(config, env) -> Learner
LEARNERS: dict[str, str] = {
    "ppo": "jaxmm.agents.ppo:make_learner",
    "dqn": "jaxmm.agents.dqn:make_learner",
}


def make_learner(config, env):
    module, name = LEARNERS[config.train.algo].split(":")
    return getattr(importlib.import_module(module), name)(config, env)
