"""Environments: the model (Avellaneda-Stoikov / Cartea-Jaimungal) and the order book."""

from __future__ import annotations

import importlib
from typing import Any

# env.name -> "module:function" building (env, params) from (env config, reward weights).
ENV_BUILDERS: dict[str, str] = {
    "model": "jaxmm.envs.model:make_model_env",
    "lob": "jaxmm.envs.lob.build:make_lob_env",
    "replay": "jaxmm.envs.replay.env:make_replay_env",
}


def make_env(config) -> tuple[Any, Any]:
    """Build the environment and its parameters from a full :class:`~jaxmm.config.Config`."""
    module, name = ENV_BUILDERS[config.env.name].split(":")
    builder = getattr(importlib.import_module(module), name)
    return builder(config.env, config.reward.vector())
