"""Run policies on every scenario of a suite: one compiled program per policy and group.

For each policy, its base config (the suite's base for a baseline; for a checkpoint, the
run's own environment with the suite's reward and eval settings) is turned into each
scenario's config; scenarios whose environments have equal static settings and parameter
shapes form a group, and a group runs as one vmapped program over its stacked
``ScenarioParams``. Shape-changing scenarios (another latency pipeline, window or episode
length) are groups of their own.

Scenario parameters are built without re-fitting the quote model: the closed-form
baselines keep the base environment's fit, so no policy is re-tuned to a scenario (in the
model environment they read σ, A and k from the parameters, as the environment hands them
to every policy).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

import jax
import numpy as np

from jaxmm.config.loader import Config
from jaxmm.envs import make_env
from jaxmm.errors import ConfigError
from jaxmm.evaluate import evaluate_scenarios
from jaxmm.evaluation import regime
from jaxmm.evaluation.accumulate import MetricSpec
from jaxmm.scenarios import Scenario, Suite, with_env

QUOTE_MODEL_LEAVES = ("qm_volatility", "qm_arrival_rate", "qm_fill_decay")  # the book's fitted quote model


@dataclasses.dataclass
class Group:
    env: Any
    names: list[str]
    params: list[regime.ScenarioParams]

    @property
    def stacked(self) -> regime.ScenarioParams:
        return regime.stack(self.params)


class EnvCache:
    """(env, params) per environment config and reward weights, built once per process."""

    def __init__(self):
        self._built: dict = {}

    def get(self, config: Config, quote_model_from: Any = None):
        env_cfg = config.env
        if quote_model_from is not None and getattr(env_cfg, "calibrate_quote_model", False):
            env_cfg = dataclasses.replace(env_cfg, calibrate_quote_model=False)
        key = (env_cfg, tuple(config.reward.vector()))
        if key not in self._built:
            self._built[key] = make_env(dataclasses.replace(config, env=env_cfg))
        env, params = self._built[key]
        if quote_model_from is not None:
            params = params.replace(**{k: getattr(quote_model_from, k) for k in QUOTE_MODEL_LEAVES
                                       if hasattr(params, k)})
        return env, params


def _shape_key(env, params) -> tuple:
    leaves, tree = jax.tree.flatten(params)
    return env, tree, tuple((np.shape(x), np.asarray(x).dtype.str) for x in leaves), \
        int(np.asarray(params.max_steps_in_episode))


def build_groups(scenarios: tuple[Scenario, ...], base: Config, cache: EnvCache) -> list[Group]:
    """The scenarios' parameters for ``base``, grouped by what can share a compiled program."""
    _, base_params = cache.get(base)
    groups: dict[tuple, Group] = {}
    for scenario in scenarios:
        env, before = cache.get(scenario.config_for(base), quote_model_from=base_params)
        after, step = before, None
        switched = scenario.switch_config_for(base)
        if switched is not None:
            env_after, after = cache.get(switched, quote_model_from=base_params)
            if env_after != env or _shape_key(env_after, after) != _shape_key(env, before):
                keys = ", ".join(f"env.{k}" for k in scenario.spec.switch_env)
                raise ConfigError(f"{scenario.source}: switch_env: {keys} change the environment's shapes "
                                  "or static settings; a regime switch can change parameter values only")
            step = scenario.spec.switch_step
        params = regime.switching(before, after, step, scenario.spec.fair_value_drift)
        key = _shape_key(env, before)
        groups.setdefault(key, Group(env, [], [])).names.append(scenario.name)
        groups[key].params.append(params)
    return list(groups.values())


def policy_base_config(spec: str, suite: Suite) -> Config:
    """The config a policy's scenarios start from: the suite's base, or for a checkpoint its
    own environment (action format, book) with the suite's reward, eval and policy sections."""
    from jaxmm.policies import CHECKPOINT_PREFIX, checkpoint_config

    if not spec.startswith(CHECKPOINT_PREFIX):
        return suite.base
    run = checkpoint_config(spec)
    if run.env.name != suite.base.env.name:
        raise ConfigError(f"{spec}: trained on the {run.env.name} environment; the suite "
                          f"{suite.path} varies the {suite.base.env.name} environment")
    return dataclasses.replace(suite.base, env=run.env)


def env_differences(config: Config, base: Config) -> list[str]:
    """The env keys in which ``config`` differs from ``base``."""
    mine, theirs = config.env.to_dict(), base.env.to_dict()
    return [f"env.{k}" for k in mine if mine[k] != theirs.get(k)]


@dataclasses.dataclass
class PolicyRun:
    label: str
    spec: str
    results: dict[str, dict]  # scenario name -> evaluate_policy-style result
    seconds: float
    env_notes: list[str]


def _spaces(env) -> tuple:
    action = env.action_space()
    return tuple(env.observation_space().shape), getattr(action, "n", None), tuple(getattr(action, "shape", ()) or ())


def run_policy(spec: str, suite: Suite, episodes: int, seed: int, batch_size: int, cache: EnvCache,
               log: Callable[[str], None] = print) -> PolicyRun:
    from jaxmm.policies import CHECKPOINT_PREFIX, resolve_policy

    base = policy_base_config(spec, suite)
    groups = build_groups(suite.scenarios, base, cache)
    start = time.perf_counter()
    results: dict[str, dict] = {}
    label, learned, learned_spaces = spec, None, None
    for group in groups:
        group_params = group.params[0].before
        if spec.startswith(CHECKPOINT_PREFIX) and learned is not None:
            if _spaces(group.env) != learned_spaces:
                raise ConfigError(f"{spec}: scenarios {', '.join(group.names)} change the observation or "
                                  "action space the policy was trained on")
            policy = learned
        else:
            policy = resolve_policy(spec, base, group.env, group_params)
            if spec.startswith(CHECKPOINT_PREFIX):
                learned, learned_spaces = policy, _spaces(group.env)
        label = policy.name if not spec.startswith(CHECKPOINT_PREFIX) else \
            f"{policy.name}:{Path(spec[len(CHECKPOINT_PREFIX):].split('#')[0]).name}"
        tic = time.perf_counter()
        stacked = group.stacked
        metric_spec = MetricSpec.from_config(base.eval, group.env, stacked.before, stacked.after)
        outs = evaluate_scenarios(group.env, stacked, policy, episodes, seed=seed, batch_size=batch_size,
                                  spec=metric_spec, eval_config=base.eval)
        results.update(zip(group.names, outs))
        log(f"  {label}: {len(group.names)} scenario{'s' if len(group.names) > 1 else ''} "
            f"({', '.join(group.names)}) in one program, {time.perf_counter() - tic:.1f} s")
    notes = env_differences(base, suite.base)
    ordered = {s.name: results[s.name] for s in suite.scenarios}
    return PolicyRun(label, spec, ordered, time.perf_counter() - start, notes)


def run_suite(suite: Suite, policy_specs: list[str], episodes: int, seed: int, batch_size: int,
              log: Callable[[str], None] = print) -> list[PolicyRun]:
    cache = EnvCache()
    runs = []
    for spec in policy_specs:
        run = run_policy(spec, suite, episodes, seed, batch_size, cache, log)
        if run.env_notes:
            log(f"  note: {spec} runs on its own environment, which differs from the suite's base in "
                f"{', '.join(run.env_notes)}")
        labels, label, suffix = {r.label for r in runs}, run.label, 2
        while run.label in labels:
            run.label = f"{label} ({suffix})"
            suffix += 1
        runs.append(run)
    return runs
