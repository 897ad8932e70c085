"""The acceptance machinery (``jaxmm.claims``) on a tiny budget: it trains every seed as one
sweep, scores each member and misses the bar with a learner that cannot learn."""

import math

import numpy as np

from jaxmm import claims

TINY = ("train.total_env_steps=4096", "train.chunk_env_steps=2048", "eval.episodes=256")


def test_mean_standard_error_and_worst_over_seeds():
    mean, se, worst = claims.mean_se_worst([0.9, 1.0, 1.1])
    assert math.isclose(mean, 1.0) and math.isclose(worst, 0.9)
    assert math.isclose(se, np.std([0.9, 1.0, 1.1], ddof=1) / math.sqrt(3))


def test_a_learner_that_cannot_learn_misses_the_bar_on_every_seed(tmp_path):
    result = claims.ppo_cj_small(tmp_path / "run", seeds=(0, 1), overrides=(*TINY, "ppo.learning_rate=1e-12"))
    assert not result.passed
    assert len(result.values) == 2 and all(v < claims.PPO_CJ_RATIO for v in result.values)
    assert [f.split(":")[0] for f in result.failures] == ["seed 0", "seed 1"]
    assert "| 0 |" in result.table and "| 1 |" in result.table and "mean ± s.e." in result.table


def test_the_dqn_claim_scores_the_greedy_policy_exactly_and_the_simulation_agrees(tmp_path):
    """An untrained DQN's greedy table, scored by policy evaluation: the simulated mean of the same
    policy sits within sampling error of it, and the ratio is taken on the exact value."""
    result = claims.dqn_cj_small(tmp_path / "run", seeds=(0, 1), overrides=(*TINY, "dqn.hidden_sizes=[16, 16]"))
    rows = [line.split("|")[1:-1] for line in result.table.splitlines() if line.startswith("| 0 |") or
            line.startswith("| 1 |")]
    assert len(rows) == 2
    for (seed, exact, simulated, sem, ratio), value in zip(rows, result.values):
        assert abs(float(exact) - float(simulated)) < 4 * float(sem)
        assert math.isclose(float(ratio.strip(" %")) / 100, value, abs_tol=5e-5)
    assert not result.passed  # no gradient step was taken (learning starts after 10,000 transitions)
