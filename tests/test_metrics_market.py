"""What the metrics should show on the book: adverse selection grows with the informed share,
slippage grows with latency; and partial batches do not leak into the pooled histograms."""

import numpy as np
import pytest

from jaxmm.baselines.fixed_spread import make_fixed_spread, make_inventory_flattening
from jaxmm.config import load_config
from jaxmm.envs import make_env
from jaxmm.evaluate import evaluate_policy, evaluate_scenarios
from jaxmm.evaluation import regime

EPISODES = 256
SETTINGS = ["env.num_steps=200", "env.calibrate_quote_model=false", "policy.fixed_depth=0.005",
            "policy.inventory_cap=2", "eval.bootstrap_samples=0", "eval.plot_paths=0",
            "eval.markout_horizons=[1,10,50]"]
INFORMED_SHARES = (0.0, 0.5, 1.0)
SE_MARGIN = 4.0  # differences asserted are at least this many standard errors


def ratio_with_error(numerator, denominator):
    ratio = numerator.sum() / denominator.sum()
    residual = numerator - ratio * denominator
    n = len(numerator)
    return ratio, np.sqrt((residual ** 2).sum() / (n - 1) / n) / denominator.mean()


def test_markouts_are_negative_and_grow_with_the_informed_share():
    base = load_config("configs/lob_informed.yaml", SETTINGS)
    built = [make_env(base.replace([f"env.informed_share={share}"])) for share in INFORMED_SHARES]
    env = built[0][0]
    assert all(e == env for e, _ in built)  # parameter values only: one program
    policy = make_fixed_spread(base, env, built[0][1])
    results = evaluate_scenarios(env, regime.stack([regime.constant(p) for _, p in built]), policy, EPISODES,
                                 seed=3, eval_config=base.eval)
    for h in (10, 50):
        markouts = [r["metrics"][f"markout_{h}"] for r in results]
        assert all(m < 0 for m in markouts[1:]), markouts
        assert markouts[0] > markouts[1] > markouts[2], markouts
    # The markout curve of the most informed flow falls with the horizon: prices keep moving
    # against the fills while the informed traders pull the mid to the fair value.
    curve = results[-1]["distributions"]["markout_curve"]["per_unit"]
    assert curve[1] > curve[2] > curve[3]


def test_slippage_grows_with_latency():
    # One environment object whose message pipeline holds the longest latency; the latency
    # itself is a parameter, so both latencies run in one program.
    slow = load_config("configs/lob_informed.yaml", [*SETTINGS, "env.latency=3"])
    env, slow_params = make_env(slow)
    fast_params = slow_params.replace(latency=slow_params.latency * 0)
    policy = make_inventory_flattening(slow, env, slow_params)
    fast, late = evaluate_scenarios(env, regime.stack([regime.constant(fast_params), regime.constant(slow_params)]),
                                    policy, EPISODES, seed=4, eval_config=slow.eval)
    per = {name: r["per_episode"] for name, r in (("fast", fast), ("late", late))}
    decision = {k: ratio_with_error(v["slippage_decision"], v["taker_volume"]) for k, v in per.items()}
    arrival = {k: ratio_with_error(v["slippage"], v["taker_volume"]) for k, v in per.items()}
    # Without latency the order is priced and executed against the same mid.
    assert decision["fast"][0] == pytest.approx(arrival["fast"][0], rel=1e-6)
    gap = decision["late"][0] - decision["fast"][0]
    assert gap > SE_MARGIN * np.hypot(decision["late"][1], decision["fast"][1]), (decision, arrival)
    # The extra cost is the mid moving while the order is in flight, not the book at arrival.
    in_flight = decision["late"][0] - arrival["late"][0]
    assert in_flight > SE_MARGIN * decision["late"][1]
    assert late["metrics"]["slippage_decision"] == pytest.approx(decision["late"][0], rel=1e-6)


@pytest.mark.parametrize("stride", [1, 4])
def test_partial_batches_do_not_reach_the_pooled_values(stride):
    config = load_config("configs/as2008.yaml", ["env.num_steps=30", "eval.plot_paths=0", "eval.bootstrap_samples=0",
                                                 f"eval.histogram_sample_every={stride}"])
    env, params = make_env(config)
    policy = make_fixed_spread(config.replace(["policy.fixed_depth=0.7"]), env, params)
    metrics = evaluate_policy(env, params, policy, 10, batch_size=4, eval_config=config.eval)
    shares = metrics["distributions"]["inventory_histogram"]["share"]
    assert sum(shares) == pytest.approx(1.0)
    rate = metrics["distributions"]["fill_rate"]
    # Both sides quoted at every step of the 10 episodes (batches of 4, 4 and 2 valid + 2 padding).
    # At stride 4 each step takes environment t % 4 of each batch: all 30 steps of the full
    # batches, and in the last one only the 16 steps (t % 4 in {0, 1}) that take a valid one.
    assert sum(rate["quoted_steps"]) == (10 * 30 if stride == 1 else 30 + 30 + 16) * 2
    assert metrics["metrics"]["fill_events_per_episode"] == pytest.approx(metrics["metrics"]["fills_per_episode"])
