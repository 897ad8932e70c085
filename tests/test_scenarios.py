"""Scenario suites: loading and validation, stacking, regime switches, drift, grouping."""

import json

import numpy as np
import pytest

from jaxmm.baselines.fixed_spread import make_fixed_spread
from jaxmm.cli import EXIT_INPUT_ERROR, main
from jaxmm.config import load_config
from jaxmm.envs import make_env
from jaxmm.errors import ConfigError
from jaxmm.evaluate import evaluate_policy, evaluate_scenarios, record_episodes
from jaxmm.evaluation import regime
from jaxmm.evaluation.suite import EnvCache, build_groups
from jaxmm.scenarios import load_suite

SHIPPED = ("configs/scenarios/lob_suite.yaml", "configs/scenarios/model_suite.yaml")
MIN_SCENARIOS = 8
MODEL = ["env.num_steps=40", "eval.plot_paths=2", "eval.bootstrap_samples=0"]


def write_suite(tmp_path, body: str, name: str = "suite.yaml"):
    path = tmp_path / name
    path.write_text(body)
    return path


@pytest.mark.parametrize("path", SHIPPED)
def test_shipped_suites_load_and_name_enough_scenarios(path):
    suite = load_suite(path)
    assert len(suite.scenarios) >= MIN_SCENARIOS
    assert all(s.description for s in suite.scenarios)
    assert suite.episodes == 2000


@pytest.mark.parametrize("body, fragment", [
    ("scenarios:\n  calm: {{}}\n", "base: name the base experiment config"),
    ("base: {base}\nscenarios:\n  v: {{env: {{volatilty: 3.0}}}}\n",
     "(scenario 'v'): env.volatilty: unknown key (did you mean 'volatility'?)"),
    ("base: {base}\nscenarios:\n  v: {{envs: {{volatility: 3.0}}}}\n", "scenarios.v.envs: unknown key (did you mean 'env'?)"),
    ("base: {base}\nscenarios:\n  v: {{env: {{volatility: -1.0}}}}\n", "env.volatility: must be > 0, got -1.0"),
    ("base: {base}\nscenarios:\n  v: {{switch_env: {{volatility: 3.0}}}}\n", "switch_env needs the step"),
    ("base: {base}\nscenarios:\n  v: {{switch_step: 500, switch_env: {{volatility: 3.0}}}}\n",
     "switch_step: 500 is not inside the episode"),
    ("base: {base}\nscenarios:\n  v: {{fair_value_drift: 0.1}}\n", "no latent fair value; use env.drift"),
    ("base: {base}\nscenarios:\n  v: {{env: {{name: lob}}}}\n", "not its kind"),
    ("base: missing.yaml\nscenarios:\n  calm: {{}}\n", "config file not found"),
    ("base: {base}\nepisodes: 0\nscenarios:\n  calm: {{}}\n", "episodes: must be > 0"),
])
def test_suite_errors_are_one_line(tmp_path, capsys, body, fragment):
    base = (tmp_path / "base.yaml")
    base.write_text(open("configs/cj_small.yaml").read())
    suite = write_suite(tmp_path, body.format(base=base.name))
    code = main(["evaluate", "--scenarios", str(suite), "--policy", "fixed_spread"])
    err = capsys.readouterr().err
    assert code == EXIT_INPUT_ERROR
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_stacked_scenarios_equal_one_by_one_evaluations():
    config = load_config("configs/cj_small.yaml", MODEL + ["policy.fixed_depth=0.01"])
    variants = [config, config.replace(["env.volatility=0.05"]), config.replace(["env.drift=0.5"]),
                config.replace(["env.arrival_rate=60"])]
    built = [make_env(c) for c in variants]
    env = built[0][0]
    policy = make_fixed_spread(config, env, built[0][1])
    stacked = evaluate_scenarios(env, regime.stack([regime.constant(p) for _, p in built]), policy, 50, seed=2,
                                 batch_size=32, eval_config=config.eval)
    for (_, params), together in zip(built, stacked):
        alone = evaluate_policy(env, params, policy, 50, seed=2, batch_size=32, eval_config=config.eval)
        for key in ("pnl_mean", "pnl_std", "sharpe", "mean_abs_inventory", "markout_10", "max_drawdown_mean",
                    "inventory_skewness", "fill_rate"):
            assert together["metrics"][key] == pytest.approx(alone["metrics"][key], rel=1e-5, abs=1e-9), key
        np.testing.assert_allclose(together["per_episode"]["pnl"], alone["per_episode"]["pnl"], rtol=1e-6)
    assert len({r["metrics"]["pnl_std"] for r in stacked}) == len(variants)  # the values did differ


def test_regime_switch_changes_the_parameters_at_the_step():
    config = load_config("configs/cj_small.yaml", MODEL)
    env, calm = make_env(config)
    _, rough = make_env(config.replace(["env.volatility=0.1"]))
    switch = 15
    policy = make_fixed_spread(config.replace(["policy.fixed_depth=0.01"]), env, calm)
    runs = {name: record_episodes(env, calm, policy, 8, seed=1, scenario=s) for name, s in (
        ("calm", regime.constant(calm)), ("rough", regime.constant(rough)),
        ("switch", regime.switching(calm, rough, switch)))}
    # The mid shock is the same random number in each run; its scale is the volatility in force.
    moves = {k: v["mid_change"] for k, v in runs.items()}
    np.testing.assert_array_equal(moves["switch"][:switch], moves["calm"][:switch])
    np.testing.assert_allclose(moves["switch"][switch:], moves["rough"][switch:], rtol=1e-6)
    assert not np.allclose(moves["calm"][switch:], moves["rough"][switch:])


def test_a_switch_that_changes_shapes_is_one_line(tmp_path):
    suite = write_suite(tmp_path, "base: " + str((tmp_path / "b.yaml")) + "\nscenarios:\n"
                        "  slow: {switch_step: 10, switch_env: {num_steps: 80}}\n")
    (tmp_path / "b.yaml").write_text(open("configs/cj_small.yaml").read().replace("num_steps: 300", "num_steps: 40"))
    loaded = load_suite(suite)
    with pytest.raises(ConfigError, match="switch_env: env.num_steps change the environment's shapes"):
        build_groups(loaded.scenarios, loaded.base, EnvCache())


def test_drift_moves_the_book_and_shape_changes_make_their_own_group(tmp_path):
    suite = write_suite(tmp_path, "base: " + str(__import__("pathlib").Path("configs/lob.yaml").resolve()) +
                        "\noverrides: [env.num_steps=80, env.informed_share=0.5, env.calibrate_quote_model=false,"
                        " eval.plot_paths=0, eval.bootstrap_samples=0]\nscenarios:\n  calm: {}\n"
                        "  up: {fair_value_drift: 0.25}\n  down: {fair_value_drift: -0.25}\n"
                        "  slow: {env: {latency: 3}}\n")
    loaded = load_suite(suite)
    groups = build_groups(loaded.scenarios, loaded.base, EnvCache())
    assert [g.names for g in groups] == [["calm", "up", "down"], ["slow"]]
    group = groups[0]
    policy = make_fixed_spread(loaded.base, group.env, group.params[0].before)
    calm, up, down = evaluate_scenarios(group.env, group.stacked, policy, 64, seed=0, eval_config=loaded.base.eval)
    # A market maker quoting both sides ends short when the price trends up, long when it falls.
    sem = lambda r: r["metrics"]["final_inventory_std"] / 8.0  # sqrt(64) episodes
    assert up["metrics"]["final_inventory_mean"] < calm["metrics"]["final_inventory_mean"] - 4 * sem(up)
    assert down["metrics"]["final_inventory_mean"] > calm["metrics"]["final_inventory_mean"] + 4 * sem(down)


def test_suite_command_prints_tables_and_writes_the_report(tmp_path, capsys):
    base = tmp_path / "base.yaml"
    base.write_text(open("configs/cj_small.yaml").read())
    suite = write_suite(tmp_path, f"base: {base.name}\noverrides: [env.num_steps=40, policy.fixed_depth=0.01, "
                        "eval.bootstrap_samples=50]\nepisodes: 30\nscenarios:\n  calm: {description: base}\n"
                        "  rough: {env: {volatility: 0.05}}\n  late: {switch_step: 20, switch_env: {arrival_rate: 5}}\n")
    out = tmp_path / "report"
    code = main(["evaluate", "--scenarios", str(suite), "--policy", "fixed_spread", "--policy", "inventory_capped",
                 "--policy", "fixed_spread", "--report", str(out), "--seed", "7"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "most robust (best worst-case sharpe):" in printed and "worst scenario" in printed
    assert "3 scenarios (calm, rough, late) in one program" in printed
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 8 and "src='http" not in html and 'src="http' not in html
    result = json.loads((out / "evaluation.json").read_text())
    labels = ["fixed_spread", "inventory_capped", "fixed_spread (2)"]
    assert set(result["results"]) == {"calm", "rough", "late"}
    assert set(result["results"]["calm"]) == set(labels) and result["seed"] == 7 and result["episodes"] == 30
    worst = {p: min(result["results"][s][p]["sharpe"] for s in result["results"]) for p in labels}
    assert result["most_robust"] == max(worst, key=worst.get)
    assert result["robustness"]["inventory_capped"]["worst"] == pytest.approx(worst["inventory_capped"])
    rows = (out / "episodes.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + len(labels) * 3 * 30
    assert rows[0].startswith("policy,scenario,episode,") and "spread_capture" in rows[0]
