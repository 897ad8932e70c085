"""Acceptance: the shipped learner configs learn on every one of three training seeds.

``pytest -m acceptance`` (outside the default run: about half an hour on the 2-core CPU).
The seeds of one config train together as one sweep (``train.seed`` axis), then each
member is evaluated on held-out episodes and must clear its threshold; mean and standard
error over seeds are printed.
"""

import math

import numpy as np
import pytest

from jaxmm import checkpoint, training
from jaxmm.baselines import dynamic_programming, make_baseline
from jaxmm.evaluate import evaluate_policy

pytestmark = pytest.mark.acceptance

SEEDS = (0, 1, 2)
SEED_AXIS = f"sweep.axes=[{{key: train.seed, values: {list(SEEDS)}}}]"
PPO_CJ_RATIO = 0.98  # of the Cartea-Jaimungal closed-form optimum
DQN_CJ_RATIO = 0.97  # of the dynamic-programming optimum of the quote grid
HELD_OUT_SEEDS = (1001, 1002)
VALIDATION_SEED = 1000
FIXED_TICKS = (0.5, 1.0, 2.0, 3.0)
BOOK_EPISODES = 2000


def _train(config, tmp_path):
    run = tmp_path / "run"
    training.main(["--config", config, "--run-dir", str(run), "--no-progress", SEED_AXIS,
                   "train.eval_episodes=0"])
    return checkpoint.restore_population(run)


def _report(name, values):
    values = np.asarray(values, float)
    sem = values.std(ddof=1) / math.sqrt(len(values))
    print(f"{name}: {values.mean():.4f} +- {sem:.4f} (worst {values.min():.4f}) over seeds {SEEDS}")


def _member_results(population, state, episodes, seed):
    return [evaluate_policy(population.env, population.member_env_params(m.index),
                            population.policy(state, m.index), episodes, seed=seed)["metrics"]
            for m in population.members]


def test_ppo_reaches_98_percent_of_the_cartea_jaimungal_optimum_on_every_seed(tmp_path):
    population, state = _train("configs/ppo_cj_small.yaml", tmp_path)
    config = population.members[0].config
    optimum = make_baseline("cartea_jaimungal", config, population.env,
                            population.member_env_params(0)).closed_form_value
    results = _member_results(population, state, config.train.eval_episodes, config.eval.seed)
    ratios = [r["reward_mean"] / optimum for r in results]
    _report("ppo_cj_small reward / closed form", ratios)
    assert min(ratios) >= PPO_CJ_RATIO, ratios


def test_dqn_reaches_97_percent_of_the_dynamic_programming_optimum_on_every_seed(tmp_path):
    population, state = _train("configs/dqn_cj_small.yaml", tmp_path)
    config = population.members[0].config
    params = population.member_env_params(0)
    optimum = dynamic_programming.initial_value(dynamic_programming.solve(params), params)
    results = _member_results(population, state, config.train.eval_episodes, config.eval.seed)
    ratios = [r["reward_mean"] / optimum for r in results]
    _report("dqn_cj_small reward / DP optimum", ratios)
    assert min(ratios) >= DQN_CJ_RATIO, ratios


def _best_fixed_spread(population):
    """The fixed-spread depth with the best Sharpe on the validation seed (the closed forms round
    to the touch on these books; they are evaluated too)."""
    config = population.members[0].config
    env, params = population.env, population.member_env_params(0)
    tick = config.env.tick_size
    candidates = []
    for ticks in FIXED_TICKS:
        cfg = config.replace([f"policy.fixed_depth={ticks * tick}"])
        policy = make_baseline("fixed_spread", cfg, env, params)
        sharpe = evaluate_policy(env, params, policy, BOOK_EPISODES, seed=VALIDATION_SEED)["metrics"]["sharpe"]
        candidates.append((sharpe, policy))
    return max(candidates, key=lambda c: c[0])[1]


@pytest.mark.parametrize("config", ["configs/ppo_lob.yaml", "configs/dqn_lob.yaml"])
def test_book_learners_beat_fixed_spread_and_closed_forms_on_every_seed(config, tmp_path):
    population, state = _train(config, tmp_path)
    env, params = population.env, population.member_env_params(0)
    base = population.members[0].config
    baselines = [_best_fixed_spread(population)]
    baselines += [make_baseline(name, base, env, params) for name in ("avellaneda_stoikov", "glft")]
    for seed in HELD_OUT_SEEDS:
        best = [evaluate_policy(env, params, b, BOOK_EPISODES, seed=seed)["metrics"] for b in baselines]
        bar = max(best, key=lambda m: m["sharpe"])
        learned = _member_results(population, state, BOOK_EPISODES, seed)
        _report(f"{config} Sharpe on seed {seed} (best baseline {bar['sharpe']:.3f})",
                [m["sharpe"] for m in learned])
        for m in learned:
            assert m["sharpe"] > bar["sharpe"], (seed, m["sharpe"], bar["sharpe"])
            assert m["mean_abs_inventory"] <= bar["mean_abs_inventory"], (seed, m["mean_abs_inventory"])
