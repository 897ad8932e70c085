"""The in-rollout metrics against plain-NumPy computations over recorded paths.

Each test records every step's ``info`` of a small rollout (``record_episodes``: the same
episodes ``evaluate_policy`` simulates with that seed in one batch), recomputes each metric
from the paths with NumPy loops written from the definitions, and compares.
"""

import dataclasses
import math

import jax.numpy as jnp
import numpy as np
import pytest

from jaxmm.baselines.fixed_spread import make_inventory_flattening
from jaxmm.config import load_config
from jaxmm.config.sections import EvalConfig
from jaxmm.envs import make_env
from jaxmm.evaluate import evaluate_policy, record_episodes
from jaxmm.evaluation.statistics import INVENTORY_QUANTILES
from jaxmm.evaluation.summary import DECOMPOSITION, decomposition_columns
from jaxmm.policy import Policy

EPISODES = 24
SEED = 5
HORIZONS = (1, 3, 10)
ADVERSE = 3
RTOL = 1e-4  # float32 running sums against float64 references
BOOK = ["env.num_steps=60", "env.latency=2", "env.latency_jitter=1", "env.calibrate_quote_model=false",
        "policy.fixed_depth=0.005", "policy.inventory_cap=2", "eval.markout_horizons=[1,3,10]",
        f"eval.adverse_selection_horizon={ADVERSE}", "eval.bootstrap_samples=200", "eval.plot_paths=3"]
MODEL = ["env.num_steps=40", "env.action_type=discrete", "env.depth_grid=[0.002,0.01,.inf]",
         "env.flatten_action=true", "env.market_order_cost=0.004", "eval.markout_horizons=[1,3,10]",
         f"eval.adverse_selection_horizon={ADVERSE}", "eval.bootstrap_samples=200", "eval.plot_paths=3"]
FLATTEN_EVERY = 7  # the model test policy flattens on these steps


def _model_policy(env, params):
    flatten = int(params.flatten_index)

    def act(policy_params, key, obs, state, env_params):
        return jnp.where(state.time % FLATTEN_EVERY == FLATTEN_EVERY - 1, flatten, 0).astype(jnp.int32)

    return Policy("flatten_sometimes", act)


@pytest.fixture(scope="module", params=["book", "model"])
def case(request):
    if request.param == "book":
        config = load_config("configs/lob_informed.yaml", BOOK)
        env, params = make_env(config)
        policy = make_inventory_flattening(config, env, params)
    else:
        config = load_config("configs/cj_small.yaml", MODEL)
        env, params = make_env(config)
        policy = _model_policy(env, params)
    result = evaluate_policy(env, params, policy, EPISODES, seed=SEED, batch_size=EPISODES, eval_config=config.eval)
    recorded = record_episodes(env, params, policy, EPISODES, seed=SEED)
    return request.param, config, params, result, recorded


def mids(rec):
    """m[k]: the mid after step k relative to reset (m[0] = 0), shape (steps + 1, episodes)."""
    return np.vstack([np.zeros(rec["mid_change"].shape[1]), np.cumsum(rec["mid_change"].astype(np.float64), axis=0)])


def markout_totals(rec, horizon):
    """Per episode: sum over passive fills of s_k (m_{min(k-1+h, T)} - m_{k-1})."""
    steps = rec["pnl"].shape[0]
    m = mids(rec)
    signed = rec["maker_bought"].astype(np.float64) - rec["maker_sold"]
    total = np.zeros(signed.shape[1])
    for k in range(1, steps + 1):
        total += signed[k - 1] * (m[min(k - 1 + horizon, steps)] - m[k - 1])
    return total


def test_recorded_episodes_are_the_evaluated_ones(case):
    _, _, _, result, rec = case
    np.testing.assert_allclose(result["per_episode"]["pnl"], rec["pnl"][-1], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(result["per_episode"]["reward"], rec["reward"].sum(axis=0), rtol=1e-5, atol=1e-6)


def test_pnl_decomposition_sums_to_pnl_on_every_episode(case):
    _, _, _, result, rec = case
    per = result["per_episode"]
    parts = decomposition_columns(per)
    total = sum(parts[k] for k in DECOMPOSITION)
    scale = np.abs(per["pnl"]).max() + 1e-3
    np.testing.assert_allclose(total, per["pnl"], rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(parts["adverse_selection"] + parts["other_revaluation"], parts["inventory_revaluation"],
                               rtol=0, atol=1e-6 * scale)
    # Each part against its definition on the paths.
    m = mids(rec)
    np.testing.assert_allclose(parts["spread_capture"], rec["fill_price_edge"].sum(0), rtol=RTOL, atol=1e-7)
    np.testing.assert_allclose(parts["slippage"], -rec["slippage"].sum(0), rtol=RTOL, atol=1e-7)
    np.testing.assert_allclose(parts["fees"], rec.get("fees", np.zeros_like(rec["pnl"])).sum(0), rtol=RTOL, atol=1e-7)
    revaluation = (rec["inventory"] * np.diff(m, axis=0)).sum(0)
    np.testing.assert_allclose(parts["inventory_revaluation"], revaluation, rtol=RTOL, atol=1e-6 * scale)
    np.testing.assert_allclose(parts["adverse_selection"], markout_totals(rec, ADVERSE), rtol=RTOL, atol=1e-6 * scale)
    assert np.abs(parts["slippage"]).sum() > 0 and np.abs(parts["adverse_selection"]).sum() > 0  # exercised


def test_markouts_and_spreads_match_numpy(case):
    _, _, _, result, rec = case
    metrics, curve = result["metrics"], result["distributions"]["markout_curve"]
    volume = (rec["maker_bought"] + rec["maker_sold"]).sum()
    effective = rec["fill_price_edge"].sum() / volume
    assert metrics["effective_spread"] == pytest.approx(effective, rel=RTOL)
    for h in HORIZONS:
        expected = markout_totals(rec, h).sum() / volume
        assert metrics[f"markout_{h}"] == pytest.approx(expected, rel=RTOL, abs=1e-9)
        assert metrics[f"realised_spread_{h}"] == pytest.approx(effective + expected, rel=RTOL, abs=1e-9)
    assert curve["horizon"] == [0, *HORIZONS] and curve["per_unit"][0] == 0.0


def test_slippage_at_arrival_and_at_decision_match_numpy(case):
    kind, _, _, result, rec = case
    metrics = result["metrics"]
    volume = np.abs(rec["taker_qty"]).sum()
    assert volume > 0
    assert metrics["slippage_arrival"] == pytest.approx(rec["slippage"].sum() / volume, rel=RTOL)
    assert metrics["market_order_volume"] == pytest.approx(volume / EPISODES, rel=1e-6)
    if kind == "model":  # market orders act at once: decision and arrival are the same step
        assert metrics["slippage_decision"] == pytest.approx(metrics["slippage_arrival"], rel=1e-9)
        return
    # Decision mid: the message that arrives at step a is the latest one sent at t <= a with
    # t + delay_t == a; it was priced off the mid at the start of step t, m[t].
    m = mids(rec)
    delay = np.rint(rec["message_delay"]).astype(int)
    steps, episodes = delay.shape
    total = 0.0
    for e in range(episodes):
        for a in range(steps):
            if rec["taker_qty"][a, e] == 0:
                continue
            sent = max(t for t in range(a + 1) if t + delay[t, e] == a)
            total += rec["slippage"][a, e] + rec["taker_qty"][a, e] * (m[a, e] - m[sent, e])
    assert metrics["slippage_decision"] == pytest.approx(total / volume, rel=RTOL)
    assert metrics["slippage_decision"] != pytest.approx(metrics["slippage_arrival"], rel=1e-3)  # latency shows


def sampled(rec, stride):
    """The (step, episode) pairs the histograms take: episode e at step t when (e - t) % stride
    == 0 (one batch here, so the episode is the environment)."""
    steps, episodes = rec["inventory"].shape
    return (np.arange(episodes)[None, :] - np.arange(steps)[:, None]) % stride == 0


# 1: every step; the default; one that does not divide the batch of EPISODES environments.
STRIDES = (1, EvalConfig().histogram_sample_every, 5)


def _with_stride(case, stride):
    kind, config, params, result, rec = case
    if stride == config.eval.histogram_sample_every:
        return result
    env, _ = make_env(config)
    policy = make_inventory_flattening(config, env, params) if kind == "book" else _model_policy(env, params)
    eval_config = dataclasses.replace(config.eval, histogram_sample_every=stride)
    return evaluate_policy(env, params, policy, EPISODES, seed=SEED, batch_size=EPISODES, eval_config=eval_config)


@pytest.mark.parametrize("stride", STRIDES)
def test_inventory_distribution_matches_numpy(case, stride):
    _, _, params, _, rec = case
    result = _with_stride(case, stride)
    metrics = result["metrics"]
    q = rec["inventory"][sampled(rec, stride)].astype(np.float64)
    expected = np.quantile(q, INVENTORY_QUANTILES, method="inverted_cdf")
    assert list(metrics["inventory_quantiles"].values()) == pytest.approx(list(expected))
    centred = q - q.mean()
    assert metrics["inventory_mean"] == pytest.approx(q.mean(), abs=1e-9)
    assert metrics["inventory_std"] == pytest.approx(q.std(), rel=1e-9)
    assert metrics["inventory_skewness"] == pytest.approx((centred ** 3).mean() / q.std() ** 3, rel=1e-9)
    at_limit = (np.abs(q) >= int(params.max_inventory)).mean()
    assert metrics["time_at_inventory_limit"] == pytest.approx(at_limit, abs=1e-12)
    # mean |q| is a sum over every step, whatever the stride
    np.testing.assert_allclose(metrics["mean_abs_inventory"], np.abs(rec["inventory"]).mean(), rtol=1e-6)


def test_drawdown_volatility_quoting_and_orders_match_numpy(case):
    kind, _, _, result, rec = case
    metrics, per = result["metrics"], result["per_episode"]
    pnl = rec["pnl"].astype(np.float64)
    peak = np.maximum.accumulate(np.maximum(pnl, 0.0), axis=0)
    drawdown = (peak - pnl).max(axis=0)
    np.testing.assert_allclose(per["max_drawdown"], drawdown, rtol=RTOL, atol=1e-7)
    assert metrics["max_drawdown_worst"] == pytest.approx(drawdown.max(), rel=RTOL)
    steps = np.diff(np.vstack([np.zeros(pnl.shape[1]), pnl]), axis=0)
    assert metrics["pnl_step_std"] == pytest.approx(steps.std(ddof=1), rel=1e-3)
    assert metrics["quoting_ratio_bid"] == pytest.approx(rec["bid_quoted"].mean(), rel=1e-6)
    assert metrics["quoting_ratio_ask"] == pytest.approx(rec["ask_quoted"].mean(), rel=1e-6)
    trades = (rec["bid_fill"] > 0).sum() + (rec["ask_fill"] > 0).sum()
    assert metrics["fill_events_per_episode"] == pytest.approx(trades / EPISODES)
    if kind == "book":
        assert metrics["order_to_trade"] == pytest.approx(rec["agent_messages"].sum() / trades, rel=1e-6)
    else:
        assert metrics["order_to_trade"] is None  # the model has no order messages


@pytest.mark.parametrize("stride", STRIDES)
def test_fill_rate_by_distance_matches_numpy(case, stride):
    kind, config, params, _, rec = case
    result = _with_stride(case, stride)
    rate = result["distributions"]["fill_rate"]
    unit = 0.5 * config.env.tick_size if kind == "book" else 0.25 / config.env.fill_decay
    bins = config.eval.fill_rate_bins
    quoted, filled = np.zeros(bins), np.zeros(bins)
    for side, fill_key in (("bid", "maker_bought"), ("ask", "maker_sold")):
        live = (rec[f"{side}_quoted"] > 0) & sampled(rec, stride)
        index = np.clip(np.rint(rec[f"{side}_distance"] / unit).astype(int), 0, bins - 1)
        np.add.at(quoted, index[live], 1)
        np.add.at(filled, index[live & (rec[fill_key] > 0)], 1)
    shown = quoted > 0
    np.testing.assert_allclose(rate["distance"], (np.arange(bins) * unit)[shown], rtol=1e-6)
    np.testing.assert_array_equal(rate["quoted_steps"], quoted[shown])
    np.testing.assert_array_equal(rate["filled_steps"], filled[shown])
    assert result["metrics"]["fill_rate"] == pytest.approx(filled.sum() / quoted.sum())


def test_sharpe_standard_error_and_bootstrap_interval(case):
    _, config, _, result, _ = case
    metrics, pnl = result["metrics"], result["per_episode"]["pnl"].astype(np.float64)
    sharpe = pnl.mean() / pnl.std(ddof=1)
    assert metrics["sharpe"] == pytest.approx(sharpe, rel=1e-5)
    assert metrics["sharpe_se"] == pytest.approx(math.sqrt((1 + 0.5 * metrics["sharpe"] ** 2) / EPISODES))
    samples = config.eval.bootstrap_samples
    draws = pnl[np.random.default_rng(SEED).integers(0, EPISODES, size=(samples, EPISODES), dtype=np.int32)]
    ratios = draws.mean(axis=1) / draws.std(axis=1, ddof=1)
    tail = (1 - config.eval.confidence) / 2
    low, high = np.nanquantile(ratios, [tail, 1 - tail])
    assert metrics["sharpe_ci_low"] == pytest.approx(low, rel=1e-9)
    assert metrics["sharpe_ci_high"] == pytest.approx(high, rel=1e-9)
    assert metrics["sharpe_ci_low"] < metrics["sharpe"] < metrics["sharpe_ci_high"]


def test_sample_paths_come_back_with_the_evaluation(case):
    _, config, _, result, rec = case
    paths = result["paths"]
    count = config.eval.plot_paths
    np.testing.assert_array_equal(paths["inventory"], rec["inventory"][:, :count].T)
    np.testing.assert_array_equal(paths["pnl"], rec["pnl"][:, :count].T)


def test_sharpe_is_undefined_when_every_episode_ends_alike():
    """Every episode flattens the same starting inventory at its first step and then never quotes:
    one PnL for all, and a spread across episodes that is only float32 rounding. The Sharpe ratio
    (and its interval) is undefined, not the millions that rounding divided into the mean gives."""
    config = load_config("configs/cj_small.yaml", [*MODEL, "env.initial_inventory=[3,3]", "eval.bootstrap_samples=50"])
    env, params = make_env(config)
    grid = np.asarray(params.action_grid)
    idle = next(i for i, row in enumerate(grid) if np.isinf(row).all() and i != int(params.flatten_index))
    flatten = int(params.flatten_index)

    def act(policy_params, key, obs, state, env_params):
        return jnp.where(state.time == 0, flatten, idle).astype(jnp.int32)

    result = evaluate_policy(env, params, Policy("flatten_once", act), 3000, seed=SEED, batch_size=1000,
                             eval_config=config.eval)
    metrics, pnl = result["metrics"], result["per_episode"]["pnl"]
    assert np.all(pnl == pnl[0]) and pnl[0] < 0  # the same cost paid by every episode
    assert math.isnan(metrics["sharpe"]) and math.isnan(metrics["sharpe_ci_low"])
