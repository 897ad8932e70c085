"""The evaluate command: JSON schema, table, plots, policy choice and errors."""

import json

import pytest

from jaxmm.cli import EXIT_INPUT_ERROR, main

REQUIRED_NUMBERS = ("pnl_mean", "pnl_std", "reward_mean", "reward_std", "final_inventory_mean",
                    "final_inventory_std", "mean_abs_inventory", "spread_mean", "fills_per_episode",
                    "quoting_ratio", "sharpe")


def test_evaluate_writes_json_table_and_plots(tmp_path, capsys):
    out = tmp_path / "result.json"
    code = main(["evaluate", "--config", "configs/cj_small.yaml", "--episodes", "200", "--seed", "3",
                 "--out", str(out), "--plots", str(tmp_path / "plots"), "env.num_steps=60", "eval.plot_paths=4"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "cartea_jaimungal" in printed and "closed form" in printed
    result = json.loads(out.read_text())
    for key in REQUIRED_NUMBERS:
        assert isinstance(result[key], float), key
    assert result["policy"] == "cartea_jaimungal"  # taken from policy.name of the config
    assert result["episodes"] == 200 and result["seed"] == 3
    assert isinstance(result["closed_form_value"], float)
    assert result["config"]["env"]["num_steps"] == 60
    assert set(result["reward_components"]) == {"pnl", "running_inventory_penalty",
                                                "terminal_inventory_penalty", "inventory_volatility_penalty"}
    assert 0 <= result["quoting_ratio"] <= 1 and result["pnl_std"] > 0
    for name in ("inventory_paths.png", "pnl_distribution.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_policy_flag_overrides_config(tmp_path):
    out = tmp_path / "r.json"
    assert main(["evaluate", "--config", "configs/as2008.yaml", "--policy", "fixed_spread", "--episodes", "16",
                 "--out", str(out), "env.num_steps=10", "policy.fixed_depth=0.25"]) == 0
    result = json.loads(out.read_text())
    assert result["policy"] == "fixed_spread" and result["spread_mean"] == pytest.approx(0.5, rel=1e-5)


@pytest.mark.parametrize("argv, fragment", [
    (["--policy", "avellaneda_stoikof"], "unknown policy 'avellaneda_stoikof' (did you mean 'avellaneda_stoikov'?)"),
    (["--policy", "checkpoint:/nonexistent/run"], "/nonexistent/run"),
])
def test_bad_policy_is_one_line(argv, fragment, capsys):
    code = main(["evaluate", "--config", "configs/as2008.yaml", *argv])
    err = capsys.readouterr().err
    assert code == EXIT_INPUT_ERROR
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err


def test_train_subcommand_forwards_options(capsys):
    assert main(["train", "--config", "missing.yaml", "train.total_env_steps=10"]) == EXIT_INPUT_ERROR
    assert "config file not found: missing.yaml" in capsys.readouterr().err


def test_stylized_facts_needs_the_order_book(capsys):
    assert main(["stylized-facts", "--config", "configs/as2008.yaml"]) == EXIT_INPUT_ERROR
    assert "stylised facts need the lob environment" in capsys.readouterr().err


@pytest.mark.parametrize("flags, fragment", [
    (["--episodes", "0"], "--episodes 0: eval.episodes: must be > 0, got 0"),
    (["--episodes", "-5"], "--episodes -5: eval.episodes: must be > 0, got -5"),
    (["--batch-size", "-3"], "--batch-size -3: eval.batch_size: must be > 0, got -3"),
    (["--seed", "-1"], "--seed -1: must be a whole number from 0 to 4294967295"),
    (["--scenarios", "configs/scenarios/model_suite.yaml", "--episodes", "0"], "--episodes 0: eval.episodes"),
])
def test_command_line_numbers_get_the_config_validation(flags, fragment, capsys):
    args = flags if "--scenarios" in flags else ["--config", "configs/as2008.yaml", *flags]
    code = main(["evaluate", *args])
    err = capsys.readouterr().err
    assert code == EXIT_INPUT_ERROR
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_a_fixed_depth_outside_the_book_is_one_line(capsys):
    code = main(["evaluate", "--config", "configs/lob_informed.yaml", "--policy", "fixed_spread",
                 "env.calibrate_quote_model=false", "policy.fixed_depth=1.0"])
    err = capsys.readouterr().err
    assert code == EXIT_INPUT_ERROR and err.count("\n") == 1
    assert "policy.fixed_depth: 1 is 100 ticks of 0.01 from the mid, beyond env.max_quote_offset = 10 ticks" in err
    assert "fixed_spread would never rest a quote in the book" in err


def test_every_shipped_book_config_quotes_its_baselines():
    from pathlib import Path

    from jaxmm.config import load_config

    books = 0
    for path in sorted(Path("configs").glob("*.yaml")):
        config = load_config(path)
        env = config.env
        if not hasattr(env, "tick_size") or not hasattr(env, "max_quote_offset"):
            continue
        books += 1
        assert config.policy.fixed_depth / env.tick_size <= env.max_quote_offset, path
    assert books >= 4


def test_a_policy_that_never_quotes_is_said(capsys):
    code = main(["evaluate", "--config", "configs/as2008.yaml", "--policy", "fixed_spread", "--episodes", "8",
                 "env.num_steps=10", "policy.fixed_depth=.inf"])
    captured = capsys.readouterr()
    assert code == 0
    assert "warning: fixed_spread never had a quote in the book (quoting ratio 0)" in captured.err
