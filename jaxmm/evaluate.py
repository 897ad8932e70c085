"""Batched policy rollouts with metrics reduced inside the compiled program.

``evaluate_policy`` simulates ``episodes`` fixed-length episodes in batches of
``batch_size`` parallel environments: one ``lax.scan`` over batches, one over
time steps, a ``vmap`` over environments, all in one jit. Per-episode results
are running sums in the scan carry (no stored trajectories), so a million
episodes need only a few numbers each. Every scalar entry of the environment's
``info`` is summed over the episode; the common ones (``jaxmm.envs.base.INFO_KEYS``)
become the standard metrics, the rest are reported under ``info_sums``. The
inventory distribution, markouts, slippage, PnL decomposition, drawdown and fill
rates are reduced in the same scan (``jaxmm.evaluation.accumulate``) and summarised
by ``jaxmm.evaluation.summary``.

``evaluate_scenarios`` runs the same program over a stack of scenario parameters
(``jaxmm.evaluation.regime.ScenarioParams``: parameter values, a regime switch, a
drift), vmapped, so scenarios of one environment compile once. Every scenario and
policy sees the same random numbers for the same seed (common random numbers).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmm import materialize
from jaxmm.envs.base import MarketEnv
from jaxmm.evaluation import accumulate, regime, statistics
from jaxmm.evaluation.accumulate import MetricSpec
from jaxmm.policy import Policy

# Per-step info entries that are not summed (vectors, running values read at the end, or
# per-step values that only the metric accumulators use).
_NOT_SUMMED = ("reward_components", "pnl", "inventory", "bid_distance", "ask_distance", "message_delay",
               "mid_change", "maker_bought", "maker_sold", "taker_qty")
# Per-episode values returned to the host (per-episode CSV, bootstrap, decomposition), when present.
EPISODE_COLUMNS = ("reward", "pnl", "final_inventory", "abs_inventory", "bid_fill", "ask_fill",
                   "maker_volume", "taker_volume", "fill_price_edge", "slippage", "slippage_decision",
                   "fees", "adverse_selection_part", "max_drawdown")


def _episode_length(env_params: Any) -> int:
    return int(np.max(np.asarray(env_params.max_steps_in_episode)))


def _run_batch(key, policy_params, scenario, weight, *, env: MarketEnv, act, stochastic: bool,
               num_steps: int, batch: int, spec: MetricSpec, record: int, record_info: bool = False):
    """Simulate ``batch`` episodes; return (per-episode sums, pooled histograms, paths of the
    first ``record`` episodes, or with ``record_info`` every step's info and reward)."""
    reset_key, run_key = jax.random.split(key)
    obs, state = jax.vmap(env.reset_env, in_axes=(0, None))(jax.random.split(reset_key, batch),
                                                              scenario.before)
    policy_axes = (None, 0 if stochastic else None, 0, 0, None)
    act_batch = jax.vmap(act, in_axes=policy_axes)
    step_batch = jax.vmap(env.transition, in_axes=(0, 0, 0, None))
    not_summed = _NOT_SUMMED if spec.extended else _NOT_SUMMED + accumulate.METRIC_INFO_KEYS

    def one_step(obs, state, step_key, params):
        noise_key, policy_key = jax.random.split(step_key)
        if stochastic:
            policy_key = jax.random.split(policy_key, batch)
        action = act_batch(policy_params, policy_key, obs, state, params)
        return step_batch(env.sample_noise(noise_key, (batch,)), state, action, params)

    def step(carry, inputs):
        obs, state, sums, metrics = carry
        t, step_key = inputs
        params = regime.active(scenario, t)
        # The step's outputs are written once and read by the sums and the metric accumulators
        # (BENCHMARKS.md, "Evaluation: what the full metric set costs").
        obs, state, reward, _, info = materialize.call(one_step, t, obs, state, step_key, params)
        state = regime.apply_drift(scenario, state)
        both = info["bid_quoted"] * info["ask_quoted"]
        inc = {k: v for k, v in info.items() if k not in not_summed}
        inc.update(reward=reward, abs_inventory=jnp.abs(info["inventory"]), both_quoted=both,
                   components=info["reward_components"])
        sums = jax.tree.map(jnp.add, sums, inc)
        metrics = accumulate.update(metrics, spec, info, t, weight, accumulate.distance_unit(params))
        if record_info:
            paths = {**info, "reward": reward}
        else:
            paths = (info["inventory"][:record], info["pnl"][:record]) if record else None
        return (obs, state, sums, metrics), paths

    info_shapes = jax.eval_shape(one_step, obs, state, run_key, scenario.before)[4]
    zeros = {k: jnp.zeros((batch,), jnp.float32) for k in info_shapes if k not in not_summed}
    zeros.update(reward=jnp.zeros((batch,), jnp.float32), abs_inventory=jnp.zeros((batch,), jnp.float32),
                 both_quoted=jnp.zeros((batch,), jnp.float32),
                 components=jnp.zeros(info_shapes["reward_components"].shape, jnp.float32))
    metrics = accumulate.init_carry(spec, batch, info_shapes)
    steps = (jnp.arange(num_steps, dtype=jnp.int32), jax.random.split(run_key, num_steps))
    (_, state, sums, metrics), paths = jax.lax.scan(step, (obs, state, zeros, metrics), steps)
    episode, pooled = accumulate.split(metrics, spec, weight)
    final = {"pnl": state.pnl, "final_inventory": state.inventory.astype(jnp.float32)}
    return {**sums, **final, **episode}, pooled, paths


def _run_many_impl(key, policy_params, scenario, valid, *, env, act, stochastic, num_steps, batch,
                   num_batches, spec, record):
    """Scan over batches; per batch reduce to means and centred sums of squares over valid
    episodes, keep the per-episode columns and the batch's pooled values (histograms, sums),
    which the host adds up in float64 (float32 counts would stop at 2^24)."""

    def one(paths_first, inputs):
        index, mask = inputs
        weight = mask.astype(jnp.float32)
        sums, pooled, paths = _run_batch(jax.random.fold_in(key, index), policy_params, scenario, weight,
                                         env=env, act=act, stochastic=stochastic, num_steps=num_steps,
                                         batch=batch, spec=spec, record=record)
        count = jnp.maximum(weight.sum(), 1.0)

        def moments(x):  # per-batch mean and centred sum of squares (no cancellation)
            mean = jnp.tensordot(weight, x, axes=1) / count
            centred = x - mean
            return mean, jnp.tensordot(weight, centred * centred, axes=1)

        if record:
            paths_first = jax.tree.map(lambda new, old: jnp.where(index == 0, new, old), paths, paths_first)
        columns = {k: sums[k] for k in EPISODE_COLUMNS if k in sums}
        return paths_first, (jax.tree.map(moments, sums), columns, pooled)

    paths_shape = jax.eval_shape(lambda: _run_batch(key, policy_params, scenario, valid[0].astype(jnp.float32),
                                                    env=env, act=act, stochastic=stochastic, num_steps=num_steps,
                                                    batch=batch, spec=spec, record=record))[2]
    init = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), paths_shape)
    paths, (stats, columns, pooled) = jax.lax.scan(one, init, (jnp.arange(num_batches), valid))
    return stats, columns, pooled, paths


_STATIC = ("env", "act", "stochastic", "num_steps", "batch", "num_batches", "spec", "record")
_run_many = functools.partial(jax.jit, static_argnames=_STATIC)(_run_many_impl)


@functools.partial(jax.jit, static_argnames=_STATIC)
def _run_scenarios(key, policy_params, scenarios, valid, **static):
    """``_run_many`` vmapped over a leading scenario axis of ``scenarios``."""
    return jax.vmap(lambda s: _run_many_impl(key, policy_params, s, valid, **static))(scenarios)


def _layout(episodes: int, batch_size: int) -> tuple[int, int, np.ndarray]:
    batch = min(batch_size, episodes)
    num_batches = math.ceil(episodes / batch)
    valid = (np.arange(num_batches * batch) < episodes).reshape(num_batches, batch)
    return batch, num_batches, valid


def default_spec(env: MarketEnv, env_params: Any) -> MetricSpec:
    from jaxmm.config.sections import EvalConfig

    return MetricSpec.from_config(EvalConfig(), env, env_params)


def evaluate_policy(env: MarketEnv, env_params: Any, policy: Policy, episodes: int, seed: int = 0,
                    batch_size: int = 8192, component_names: tuple[str, ...] | None = None, *,
                    spec: MetricSpec | None = None, eval_config=None) -> dict:
    """Roll out ``episodes`` episodes of ``policy`` and return a JSON-able dict of metrics.

    Returns ``{"metrics": ..., "per_episode": {column: array}, "distributions": ...,
    "paths": ...}``; ``eval_config`` (an ``EvalConfig``) sets the metric horizons and the
    bootstrap, ``spec`` overrides its in-rollout part."""
    scenario = regime.constant(env_params)
    return _evaluate(env, scenario, policy, episodes, seed, batch_size, component_names, spec,
                     eval_config, stacked=False)[0]


def evaluate_scenarios(env: MarketEnv, scenarios: regime.ScenarioParams, policy: Policy, episodes: int,
                       seed: int = 0, batch_size: int = 8192, component_names=None, *,
                       spec: MetricSpec | None = None, eval_config=None) -> list[dict]:
    """``evaluate_policy`` on every scenario of a stack (leading axis), in one compiled program."""
    return _evaluate(env, scenarios, policy, episodes, seed, batch_size, component_names, spec,
                     eval_config, stacked=True)


def _evaluate(env, scenario, policy, episodes, seed, batch_size, component_names, spec, eval_config,
              stacked: bool) -> list[dict]:
    from jaxmm.config.sections import EvalConfig
    from jaxmm.evaluation.summary import summarise_extended

    eval_config = eval_config or EvalConfig()
    spec = spec or MetricSpec.from_config(eval_config, env, scenario.before, scenario.after)
    num_steps = _episode_length(scenario.before)
    batch, num_batches, valid = _layout(episodes, batch_size)
    record = min(eval_config.plot_paths, batch) if spec.extended else 0
    run = _run_scenarios if stacked else _run_many
    stats, columns, pooled, paths = run(
        jax.random.PRNGKey(seed), policy.params, scenario, jnp.asarray(valid), env=env, act=policy.act,
        stochastic=policy.stochastic, num_steps=num_steps, batch=batch, num_batches=num_batches,
        spec=spec, record=record)
    stats, columns, pooled, paths = jax.device_get((stats, columns, pooled, paths))
    batch_axis = 1 if stacked else 0
    pooled = jax.tree.map(lambda x: np.asarray(x, np.float64).sum(axis=batch_axis), pooled)
    counts = valid.sum(axis=1).astype(np.float64)
    names = component_names or getattr(env, "reward_components", None)
    take = (lambda tree, i: jax.tree.map(lambda x: x[i], tree)) if stacked else (lambda tree, i: tree)
    results = []
    for i in range(len(scenario.switch_step) if stacked else 1):
        one_stats = jax.tree.map(lambda mean, m2: combine_moments(counts, mean, m2), *_unzip(take(stats, i)),
                                 is_leaf=lambda x: isinstance(x, np.ndarray))
        metrics = summarise(one_stats, episodes, num_steps, names)
        metrics["policy"] = policy.name
        if policy.closed_form_value is not None:
            metrics["closed_form_value"] = float(policy.closed_form_value)
            metrics["reward_to_closed_form"] = metrics["reward_mean"] / float(policy.closed_form_value)
        per_episode = {k: np.asarray(v)[valid] for k, v in take(columns, i).items()}
        params = take(scenario.before, i) if stacked else scenario.before
        distributions = {}
        if spec.extended:
            extended, distributions = summarise_extended(one_stats, per_episode, take(pooled, i), episodes,
                                                         num_steps, spec, params, eval_config, seed)
            metrics.update(extended)
        out = {"metrics": metrics, "per_episode": per_episode, "distributions": distributions}
        if record:
            inventory, pnl = take(paths, i)
            out["paths"] = {"inventory": np.asarray(inventory).T, "pnl": np.asarray(pnl).T}
        results.append(out)
    return results


def _unzip(stats: dict) -> tuple[dict, dict]:
    return ({k: v[0] for k, v in stats.items()}, {k: v[1] for k, v in stats.items()})


def combine_moments(counts: np.ndarray, means, m2s) -> tuple[np.ndarray, np.ndarray]:
    """Chan et al.'s parallel combination of per-batch (count, mean, M2) into overall (mean, M2)."""
    means = np.asarray(means, np.float64)
    m2s = np.asarray(m2s, np.float64)
    weights = counts.reshape((-1,) + (1,) * (means.ndim - 1))
    total = counts.sum()
    mean = (weights * means).sum(axis=0) / total
    m2 = m2s.sum(axis=0) + (weights * (means - mean) ** 2).sum(axis=0)
    return mean, m2


# Sums that ``summarise`` reports under their own names (the rest go to ``info_sums``), and the
# per-episode values of the metric accumulators (summarised by jaxmm.evaluation.summary).
_STANDARD = {"reward", "abs_inventory", "both_quoted", "components", "pnl", "final_inventory",
             "spread", "bid_fill", "ask_fill", "bid_quoted", "ask_quoted"}
_ACCUMULATED = {"max_drawdown", "adverse_selection_part", "slippage_decision"}


def summarise(stats: dict, episodes: int, num_steps: int, component_names) -> dict:
    """Turn per-quantity (mean, M2) over episodes into the reported metrics."""

    def mean(key):
        return stats[key][0]

    def std(key):
        return math.sqrt(stats[key][1] / max(episodes - 1, 1))

    pnl_std = std("pnl")
    quoted_steps = mean("both_quoted")
    metrics = {
        "episodes": episodes,
        "steps_per_episode": num_steps,
        "pnl_mean": mean("pnl"),
        "pnl_std": pnl_std,
        "reward_mean": mean("reward"),
        "reward_std": std("reward"),
        "reward_sem": std("reward") / math.sqrt(episodes),
        "final_inventory_mean": mean("final_inventory"),
        "final_inventory_std": std("final_inventory"),
        "mean_abs_inventory": mean("abs_inventory") / num_steps,
        "spread_mean": mean("spread") / quoted_steps if quoted_steps > 0 else float("nan"),
        "fills_per_episode": mean("bid_fill") + mean("ask_fill"),
        "quoting_ratio": (mean("bid_quoted") + mean("ask_quoted")) / (2 * num_steps),
        "sharpe": statistics.sharpe(mean("pnl"), pnl_std, num_steps),
    }
    totals, _ = stats["components"]
    names = component_names or [f"component_{i}" for i in range(len(totals))]
    metrics["reward_components"] = {name: float(v) for name, v in zip(names, totals)}
    metrics["info_sums"] = {k: mean(k) for k in sorted(stats) if k not in _STANDARD and k not in _ACCUMULATED}
    return {k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in metrics.items()}


_run_batch_jit = functools.partial(jax.jit, static_argnames=(
    "env", "act", "stochastic", "num_steps", "batch", "spec", "record", "record_info"))(_run_batch)


def sample_paths(env: MarketEnv, env_params: Any, policy: Policy, episodes: int, seed: int = 0) -> dict:
    """Inventory and PnL paths of a few episodes, shape (episodes, steps), for plots."""
    _, _, (inventory, pnl) = _run_batch_jit(
        jax.random.PRNGKey(seed), policy.params, regime.constant(env_params), jnp.ones((episodes,), jnp.float32),
        env=env, act=policy.act, stochastic=policy.stochastic, num_steps=_episode_length(env_params),
        batch=episodes, spec=default_spec(env, env_params), record=episodes)
    return {"inventory": np.asarray(inventory).T, "pnl": np.asarray(pnl).T}


def record_episodes(env: MarketEnv, env_params: Any, policy: Policy, episodes: int, seed: int = 0,
                    scenario: regime.ScenarioParams | None = None) -> dict[str, np.ndarray]:
    """Every per-step ``info`` entry (and the reward) of the episodes that ``evaluate_policy``
    with the same seed and ``batch_size >= episodes`` simulates: arrays of shape (steps,
    episodes), (steps, episodes, components) for ``reward_components``. For reference
    computations and debugging; evaluation itself never stores trajectories."""
    scenario = regime.constant(env_params) if scenario is None else scenario
    _, _, info = _run_batch_jit(
        jax.random.fold_in(jax.random.PRNGKey(seed), 0), policy.params, scenario,
        jnp.ones((episodes,), jnp.float32), env=env, act=policy.act, stochastic=policy.stochastic,
        num_steps=_episode_length(scenario.before), batch=episodes, spec=default_spec(env, scenario.before),
        record=0, record_info=True)
    return {k: np.asarray(v) for k, v in info.items()}
