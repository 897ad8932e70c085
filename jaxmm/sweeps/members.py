"""The members of a sweep: their configs, which keys may vary, their stacked inputs.

A sweep compiles one program for all members, so a swept key must be data: a reward
weight, a float parameter of the environment, a float hyperparameter of the learner
(a leaf of its ``hyper`` pytree), or ``train.seed``. A key that sets a shape or a
loop count (levels, network size, ``num_envs``, episode length, latency in steps...)
is rejected with one line naming it. Whatever the key's type, the members' built
environments must agree in their static settings and parameter shapes.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmm.config import Config, config_from_dict
from jaxmm.config.loader import LEARNER_SECTIONS
from jaxmm.errors import ConfigError
from jaxmm.sweeps.stacking import stack

SEED_KEY = "train.seed"
STATIC_REASON = ("sets a shape, a loop count or a static setting of the compiled program, so one "
                 "program cannot vary it; run one sweep per value")


@dataclasses.dataclass(frozen=True)
class Member:
    index: int
    values: dict[str, Any]  # swept dotted key -> this member's value
    config: Config  # the member's complete config (no sweep section)


def _is_float_field(section, name: str) -> bool:
    """Whether the field is a float (or an optional float): integers set counts and shapes."""
    hint = typing.get_type_hints(type(section)).get(name)
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    return float in (typing.get_args(hint) if union else (hint,))


def _field_names(section) -> set[str]:
    return {f.name for f in dataclasses.fields(section)}


def hyper_keys(config: Config, learner) -> set[str]:
    """Learner keys that are leaves of its ``hyper`` pytree (named like the config field)."""
    hyper = learner.hyper(config)
    return {f.name for f in dataclasses.fields(hyper)} & _field_names(config.learner())


def check_sweepable(config: Config, key: str, learner) -> None:
    section, name = key.split(".")
    where = f"sweep: {key}"
    if key == SEED_KEY or section == "reward":
        return  # seeds are keys; reward components are checked when the member config is built
    if section == "env":
        if name not in _field_names(config.env):
            raise ConfigError(f"{where}: unknown key of env {config.env.name!r}")
        if not _is_float_field(config.env, name):
            raise ConfigError(f"{where}: {STATIC_REASON}")
        return
    if section in LEARNER_SECTIONS:
        if section != config.train.algo:
            raise ConfigError(f"{where}: train.algo is {config.train.algo!r}; the {section} section is not used")
        if name not in _field_names(config.learner()):
            raise ConfigError(f"{where}: unknown key of the {section} section")
        if name not in hyper_keys(config, learner):
            raise ConfigError(f"{where}: {STATIC_REASON}")
        return
    raise ConfigError(f"{where}: {STATIC_REASON}; a sweep varies reward.*, float env.* and "
                      f"{config.train.algo}.* hyperparameters, and train.seed")


def expand(config: Config, learner) -> list[Member]:
    """The members of ``config``'s sweep (one member, index 0, when it has no axes)."""
    rows = config.sweep.members()
    for key in rows[0]:
        check_sweepable(config, key, learner)
    return [Member(index, values, member_config(config, index, values)) for index, values in enumerate(rows)]


def member_config(config: Config, index: int, values: dict[str, Any]) -> Config:
    """``config`` with a member's swept values set and no sweep section (validated again)."""
    raw = config.to_dict()
    raw["sweep"] = {}
    for key, value in values.items():
        section, name = key.split(".")
        raw.setdefault(section, {})[name] = value
    label = ", ".join(f"{k}={v!r}" for k, v in values.items())
    try:
        return config_from_dict(raw, f"{config.source}, sweep member {index} ({label})")
    except ConfigError as err:
        raise ConfigError(f"sweep: {err}") from None


def _signature(tree: Any) -> tuple:
    leaves, treedef = jax.tree.flatten(tree)
    return treedef, tuple((np.shape(x), jnp.asarray(x).dtype) for x in leaves)


def _env_tag(config: Config) -> str:
    return json.dumps(config.env.to_dict(), sort_keys=True, default=str)


def member_env_params(members: list[Member], env, env_params, make_env) -> list[Any]:
    """Each member's environment parameters. Members that differ only in reward weights share
    one built environment (``env_params`` is the base config's, which members with the base
    environment reuse); every member's environment must equal ``env`` in its static settings
    and have parameters of the same shapes."""
    built: dict[str, Any] = {}
    params = []
    swept_env = [k for k in members[0].values if k.startswith("env.")]
    for member in members:
        tag = _env_tag(member.config)
        if not built and not swept_env:
            built[tag] = env_params
        if tag not in built:
            member_env, member_params = make_env(member.config)
            if member_env != env:
                raise ConfigError(f"sweep: {', '.join(swept_env)} {STATIC_REASON} (member {member.index} "
                                  "builds an environment with other static settings)")
            built[tag] = member_params
        weights = jnp.asarray(member.config.reward.vector(), jnp.float32)
        params.append(built[tag].replace(reward_weights=weights))
    first = _signature(params[0])
    for member, p in zip(members, params):
        if _signature(p) != first:
            raise ConfigError(f"sweep: {', '.join(swept_env)} {STATIC_REASON} (member {member.index} "
                              "has environment parameters of other shapes)")
    return params


def stacked_inputs(members: list[Member], learner, env, env_params, make_env) -> tuple[Any, Any, Any]:
    """(PRNG keys, env params, hyperparameters), each stacked along the member axis."""
    keys = jnp.stack([jax.random.PRNGKey(m.config.train.seed) for m in members])
    params = stack(member_env_params(members, env, env_params, make_env))
    hypers = stack([learner.hyper(m.config) for m in members])
    return keys, params, hypers
