"""Configuration: every shipped YAML builds; bad input stops with one message naming key and file."""

from pathlib import Path

import pytest

from jaxmm.cli import EXIT_INPUT_ERROR, main
from jaxmm.config import load_config
from jaxmm.errors import ConfigError

CONFIGS = sorted(Path(__file__).resolve().parent.parent.joinpath("configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_builds(path):
    config = load_config(path)
    assert config.source == str(path)
    # The resolved config round-trips through its dict form.
    assert load_config(None).replace([]).to_dict() == load_config(None).to_dict()
    assert config.replace([]).to_dict() == config.to_dict()


def test_shipped_papers_set_ups():
    as2008 = load_config("configs/as2008.yaml").env
    assert (as2008.num_steps, as2008.dt, as2008.volatility, as2008.fill_decay, as2008.arrival_rate) == \
        (200, 0.005, 2.0, 1.5, 140.0)
    small = load_config("configs/cj_small.yaml")
    assert small.env.inventory_range == (-3, 3)
    assert small.reward.weights["running_inventory_penalty"] == 0.0002


def write(tmp_path, text):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, fragment", [
    ("env:\n  volatilty: 2\n", "env.volatilty: unknown key (did you mean 'volatility'?)"),
    ("env:\n  volatility: fast\n", "env.volatility: expected a number, got str 'fast'"),
    ("env:\n  volatility: -1\n", "env.volatility: must be > 0, got -1.0"),
    ("env:\n  num_steps: 0\n", "env.num_steps: must be > 0"),
    ("env:\n  num_steps: 2.5\n", "env.num_steps: expected an integer"),
    ("env:\n  action_type: discrete\n", "env.depth_grid: is empty"),
    ("env:\n  initial_inventory: [3, -3]\n", "env.initial_inventory: low 3 is above high -3"),
    ("env:\n  initial_inventory: [0, 500]\n", "outside the inventory limits"),
    ("env:\n  name: moon\n", "env.name: unknown environment 'moon'"),
    ("envv:\n  volatility: 1\n", "unknown section 'envv' (did you mean 'env'?)"),
    ("reward:\n  pnll: 1\n", "reward.pnll: unknown reward component (did you mean 'pnl'?)"),
    ("reward:\n  pnl: -1\n", "reward.pnl: weights are scales"),
    ("eval:\n  episodes: 0\n", "eval.episodes: must be > 0"),
    ("train:\n  algo: sarsa\n", "train.algo: expected one of"),
    ("env: [1, 2]\n", "env: expected a mapping"),
    ("env:\n  volatility: [1\n", "not valid YAML"),
])
def test_bad_file_names_file_and_key(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert fragment in str(err.value)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("override, fragment", [
    ("env.volatility", "not of the form section.key=value"),
    ("volatility=2", "the key must be dotted"),
    ("env.volatilty=2", "env.volatilty: unknown key"),
    ("rewards.pnl=1", "unknown section 'rewards'"),
    ("env.fill_decay=0", "env.fill_decay: must be > 0"),
    ("eval.histogram_sample_every=0", "eval.histogram_sample_every: must be >= 1 (1: every step), got 0"),
])
def test_bad_override_is_named(override, fragment):
    with pytest.raises(ConfigError, match=None) as err:
        load_config("configs/as2008.yaml", [override])
    assert fragment in str(err.value)


def test_overrides_apply_and_coerce():
    config = load_config("configs/as2008.yaml", ["env.num_steps=1e3", "env.initial_inventory=[-2, 2]",
                                                 "reward.running_inventory_penalty=0.5"])
    assert config.env.num_steps == 1000
    assert config.env.inventory_range == (-2, 2)
    assert config.reward.vector() == [1.0, 0.5, 0.0, 0.0]


def test_missing_file():
    with pytest.raises(ConfigError, match="config file not found: nowhere.yaml"):
        load_config("nowhere.yaml")


def test_cli_prints_one_line_and_exits_2(capsys):
    code = main(["evaluate", "--config", "configs/as2008.yaml", "env.volatilty=1"])
    captured = capsys.readouterr()
    assert code == EXIT_INPUT_ERROR
    assert captured.err.strip().count("\n") == 0
    assert captured.err.startswith("error: configs/as2008.yaml")
    assert "Traceback" not in captured.err
