"""Sweeps: axes, which keys may vary, one compiled program for any member count, outputs, resume."""

import csv
import dataclasses
import json

import chex
import jax
import numpy as np
import pytest

from jaxmm import checkpoint, training
from jaxmm.config import load_config
from jaxmm.errors import CheckpointError, ConfigError
from jaxmm.population import build_population
from jaxmm.sweeps import pareto
from tests.interrupt import interrupt_then_resume

CONFIG = "configs/ppo_cj_small.yaml"
TINY = [
    "train.total_env_steps=1024", "train.chunk_env_steps=512", "train.eval_episodes=32",
    "eval.episodes=32", "eval.batch_size=32", "ppo.num_envs=16", "ppo.rollout_len=32",
    "ppo.num_minibatches=2", "ppo.num_epochs=1", "ppo.hidden_sizes=[8]", "env.num_steps=20",
]
PENALTIES = [1e-4, 1e-3]
AXES = ("sweep.axes=[{key: reward.running_inventory_penalty, values: " + str(PENALTIES) + "}, "
        "{key: train.seed, values: [0, 1]}]")


def _config(*overrides):
    return load_config(CONFIG, [*TINY, *overrides])


# ---------------------------------------------------------------- axes
def test_grids_lists_and_random_axes_combine_as_product_or_zip():
    config = _config("sweep.axes=[{key: reward.running_inventory_penalty, log: [1.0e-5, 1.0e-3], num: 3}, "
                     "{key: ppo.learning_rate, linear: [1.0e-4, 3.0e-4], num: 2}]")
    members = config.sweep.members()
    assert len(members) == 6
    np.testing.assert_allclose(sorted({m["reward.running_inventory_penalty"] for m in members}), [1e-5, 1e-4, 1e-3])
    assert [m["ppo.learning_rate"] for m in members[:2]] == pytest.approx([1e-4, 3e-4])  # last axis fastest
    zipped = _config("sweep.combine=zip", "sweep.axes=[{key: train.seed, values: [0, 1, 2]}, "
                     "{key: ppo.ent_coef, log_uniform: [1.0e-4, 1.0e-2], num: 3}]").sweep.members()
    assert [m["train.seed"] for m in zipped] == [0, 1, 2]
    draws = [m["ppo.ent_coef"] for m in zipped]
    assert all(1e-4 <= d <= 1e-2 for d in draws) and len(set(draws)) == 3
    again = _config("sweep.combine=zip", "sweep.axes=[{key: train.seed, values: [0, 1, 2]}, "
                    "{key: ppo.ent_coef, log_uniform: [1.0e-4, 1.0e-2], num: 3}]").sweep.members()
    assert [m["ppo.ent_coef"] for m in again] == draws  # sweep.seed fixes the draws


@pytest.mark.parametrize("axes, message", [
    ("[{key: ppo.num_envs, values: [8, 16]}]", "sweep: ppo.num_envs: sets a shape"),
    ("[{key: env.num_steps, values: [10, 20]}]", "sweep: env.num_steps: sets a shape"),
    ("[{key: ppo.hidden_sizes, values: [[8], [16]]}]", "sweep: ppo.hidden_sizes: sets a shape"),
    ("[{key: eval.episodes, values: [8, 16]}]", "sweep: eval.episodes: sets a shape"),
    ("[{key: env.volatilty, values: [0.1]}]", "unknown key"),
    ("[{key: dqn.learning_rate, values: [0.1]}]", "dqn section is not used"),
    ("[{key: reward.running_inventory_penalty, linear: [-1.0e-3, 1.0e-3], num: 3}]",
     "reward.running_inventory_penalty: weights are scales of signed components and must be >= 0, got -0.001"),
    ("[{key: reward.running_inventory_penalty, log: [1.0e-5, 1.0e-3], num: 0}]", "the grid is empty"),
    ("[{key: reward.running_inventory_penalty, values: []}]", "the list of values is empty"),
    ("[{key: reward.running_inventory_penalty, log: [0.0, 1.0e-3], num: 4}]", "a log scale needs low > 0"),
    ("[{key: env.max_depth, values: [0.05, 0.1]}]", "other static settings"),
])
def test_bad_sweeps_are_one_clear_line(axes, message):
    with pytest.raises(ConfigError) as err:
        build_population(_config(f"sweep.axes={axes}"))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_zipped_axes_of_different_lengths_are_rejected():
    with pytest.raises(ConfigError, match=r"sweep.combine: zip needs axes of one length.*train.seed: 2"):
        _config("sweep.combine=zip", "sweep.axes=[{key: train.seed, values: [0, 1]}, "
                "{key: ppo.ent_coef, values: [0.0, 0.1, 0.2]}]")


# ---------------------------------------------------------------- one program
@pytest.mark.parametrize("size", [1, 2, 5])
def test_a_sweep_of_any_size_traces_and_compiles_its_chunk_once(size):
    axes = [f"sweep.axes=[{{key: train.seed, values: {list(range(size))}}}]"] if size > 1 else []
    population = build_population(_config(*axes))
    chex.clear_trace_counter()  # the counter is keyed by the function's code, shared across sizes
    counted = chex.assert_max_traces(population.learner.chunk, n=1)
    # The program training runs (one member: the learner's chunk without the member axis).
    population = dataclasses.replace(population, learner=population.learner._replace(chunk=counted))
    run = jax.jit(population.chunk)
    state = population.init()
    for _ in range(3):
        state, metrics = run(state)
    assert run._cache_size() == 1
    assert metrics["episode_reward"].shape == (size,)
    # Different seeds, different members: the member axis is real.
    assert len({float(x) for x in metrics["policy_loss"]}) == size
    assert jax.tree.leaves(state)[0].shape[0] == size


def test_one_member_trains_as_a_member_axis_of_one_would():
    """The single-member chunk skips the vmap; same numbers up to float32 rounding."""
    population = build_population(_config())
    state = population.init()
    got_state, got = jax.jit(population.chunk)(state)
    want_state, want = jax.jit(jax.vmap(population.learner.chunk))(state)
    for a, b in zip(jax.tree.leaves((got_state.params, got)), jax.tree.leaves((want_state.params, want))):
        assert a.shape == b.shape
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)


def test_members_hold_their_own_reward_weights_and_hyperparameters():
    config = _config(AXES, "ppo.learning_rate=1e-3")
    population = build_population(config)
    weights = np.asarray(population.env_params.reward_weights)
    names = population.env.reward_components
    np.testing.assert_allclose(weights[:, names.index("running_inventory_penalty")],
                               [1e-4, 1e-4, 1e-3, 1e-3], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(population.hypers.learning_rate), 1e-3, rtol=1e-6)
    state = population.init()
    np.testing.assert_allclose(np.asarray(state.env_params.reward_weights), weights)


@pytest.mark.parametrize("config_path,small", [
    (CONFIG, TINY), ("configs/dqn_cj_small.yaml", ["dqn.hidden_sizes=[16, 16]", "dqn.buffer_size=64"])])
def test_a_members_initial_state_is_the_one_its_own_run_starts_from(config_path, small):
    seeds = [0, 1, 2]
    population = build_population(load_config(config_path, [*small, f"sweep.axes=[{{key: train.seed, values: {seeds}}}]"]))
    stacked = population.init()
    for index, seed in enumerate(seeds):
        alone = build_population(load_config(config_path, [*small, f"train.seed={seed}"]))
        own = jax.tree.map(lambda x: x[0], alone.init())
        mine = jax.tree.map(lambda x: x[index], stacked)
        for a, b in zip(jax.tree.leaves(own), jax.tree.leaves(mine)):
            if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
                a, b = jax.random.key_data(a), jax.random.key_data(b)
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# ---------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweeps") / "tiny"
    training.main(["--config", CONFIG, "--run-dir", str(out), "--no-progress", *TINY, AXES,
                   "train.baselines=[cartea_jaimungal]"])
    return out


def test_sweep_writes_one_row_per_chunk_and_member_and_its_tables(sweep_run):
    with (sweep_run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(int(r["chunk"]), int(r["member"])) for r in rows] == [(c, m) for c in (1, 2) for m in range(4)]
    assert [float(r["reward.running_inventory_penalty"]) for r in rows[:4]] == pytest.approx(
        [1e-4, 1e-4, 1e-3, 1e-3])
    assert [int(r["train.seed"]) for r in rows[:4]] == [0, 1, 0, 1]
    with (sweep_run / "sweep.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [int(r["member"]) for r in table] == [0, 1, 2, 3]
    assert {"reward.running_inventory_penalty", "seed", "pnl_mean", "pnl_std", "sharpe", "mean_abs_inventory",
            "quoting_ratio", "fills_per_episode", "reward_mean"} <= set(table[0])
    record = json.loads((sweep_run / "sweep.json").read_text())
    assert len(record["frontiers"]["cartea_jaimungal"]) == len(PENALTIES)
    for risk in ("pnl_std", "mean_abs_inventory"):
        assert record["fronts"][risk]["hypervolume"]["learned"] >= 0
    objective = record["objective_vs_frontier"]["cartea_jaimungal"]
    optimum = {p["reward.running_inventory_penalty"]: p["reward_mean"] for p in record["frontiers"]["cartea_jaimungal"]}
    assert objective["key"] == "reward.running_inventory_penalty"
    assert objective["reward_ratio"] == pytest.approx(
        [m["reward_mean"] / optimum[m["reward.running_inventory_penalty"]] for m in record["members"]])
    assert (sweep_run / "pareto.png").stat().st_size > 0
    runs = sorted(p.name for p in (sweep_run / "tensorboard").iterdir())
    assert runs == [f"member_{k:03d}" for k in range(4)]


def test_evaluate_picks_a_member_by_index_or_by_validation_sharpe(sweep_run, capsys):
    from jaxmm.cli import EXIT_INPUT_ERROR, main
    from jaxmm.sweeps.selection import best_member

    assert main(["evaluate", "--policy", f"checkpoint:{sweep_run}#member=2", "--episodes", "8"]) == 0
    assert "ppo#member=2" in capsys.readouterr().out
    record = json.loads((sweep_run / "sweep.json").read_text())
    sharpes = [m["sharpe"] if m["sharpe"] is not None else -np.inf for m in record["validation"]["members"]]
    assert best_member(sweep_run, "sharpe") == int(np.argmax(sharpes))
    assert main(["evaluate", "--policy", f"checkpoint:{sweep_run}#best=sharpe", "--episodes", "8"]) == 0
    assert main(["evaluate", "--policy", f"checkpoint:{sweep_run}#member=4", "--episodes", "8"]) == EXIT_INPUT_ERROR
    err = capsys.readouterr().err
    assert "#member=4 is out of range" in err and "4 members (0..3)" in err and err.count("\n") == 1
    from jaxmm.policies import parse_checkpoint_spec

    with pytest.raises(CheckpointError, match="#best= takes one of"):
        parse_checkpoint_spec(f"checkpoint:{sweep_run}#best=luck")


def test_an_interrupted_sweep_resumes_exactly(sweep_run, tmp_path, monkeypatch):
    run = tmp_path / "interrupted"
    interrupt_then_resume(monkeypatch, ["--config", CONFIG, "--no-progress", *TINY, AXES,
                                        "train.baselines=[cartea_jaimungal]"], run)
    _, resumed = checkpoint.restore_population(run)
    _, straight = checkpoint.restore_population(sweep_run)
    for a, b in zip(jax.tree.leaves(resumed.params), jax.tree.leaves(straight.params)):
        np.testing.assert_array_equal(a, b)
    assert (run / "sweep.csv").read_text() == (sweep_run / "sweep.csv").read_text()


# ---------------------------------------------------------------- fronts
def test_hypervolume_and_non_dominance_match_a_hand_computation():
    pnl = np.array([3.0, 2.0, 1.0, 1.5])
    std = np.array([3.0, 1.0, 0.5, 2.0])  # (1.5, 2.0) is dominated by (2.0, 1.0)
    np.testing.assert_array_equal(pareto.non_dominated(pnl, std), [True, True, True, False])
    # Reference (PnL 0, std 4): staircase areas 3*(4-3) + 2*(3-1) + 1*(1-0.5) = 7.5.
    assert pareto.hypervolume(pnl, std, (0.0, 4.0)) == pytest.approx(7.5)
    np.testing.assert_allclose(pareto.frontier_at(std, pnl, [0.75, 2.0, 5.0]), [1.5, 2.5, np.nan])


def test_members_are_scored_against_the_frontier_at_their_own_parameter():
    from jaxmm.sweeps.report import objective_vs_frontier

    rows = [{"member": 0, "reward.x": 1.0, "reward_mean": 0.9},
            {"member": 1, "reward.x": 2.0, "reward_mean": 0.3},
            {"member": 2, "reward.x": 3.0, "reward_mean": 0.1}]
    frontiers = {"optimum": [{"policy": "optimum", "reward.x": 1.0, "reward_mean": 1.0},
                             {"policy": "optimum", "reward.x": 2.0, "reward_mean": 0.6},
                             {"policy": "optimum", "reward.x": 3.0, "reward_mean": -0.2}],
                 "elsewhere": [{"policy": "elsewhere", "policy.depth": 0.1, "reward_mean": 1.0}]}
    out = objective_vs_frontier(rows, frontiers, swept_keys=("reward.x", "train.seed"))
    assert set(out) == {"optimum"}  # a frontier along a key no member sweeps has no match
    assert out["optimum"]["reward_ratio"] == pytest.approx([0.9, 0.5, None])  # no ratio to a negative optimum
    assert (out["optimum"]["min"], out["optimum"]["median"]) == pytest.approx((0.5, 0.7))
