"""train.py end to end on a tiny budget: run directory, checkpoints, exact resume, bad input."""

import json
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxmm import checkpoint, training
from jaxmm.errors import CheckpointError, ConfigError
from tests.interrupt import interrupt_then_resume

TINY = [
    "train.total_env_steps=1536", "train.chunk_env_steps=512", "train.checkpoint_every_chunks=1",
    "train.eval_episodes=64", "train.baselines=[]", "eval.batch_size=64",
    "ppo.num_envs=16", "ppo.rollout_len=32", "ppo.num_minibatches=2", "ppo.num_epochs=2",
    "ppo.hidden_sizes=[16]", "env.num_steps=20",
]
CONFIG = "configs/ppo_cj_small.yaml"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    training.main(["--config", CONFIG, "--run-dir", str(out), "--no-progress", *TINY])
    return out


def _final_params(run):
    _, policy = checkpoint.load_policy(run)
    return jax.tree.leaves(policy.params)


def test_run_directory_holds_config_metrics_checkpoints_and_evaluation(run_dir):
    assert (run_dir / "config.yaml").is_file()
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["chunk"] for r in rows] == [1, 2, 3]
    assert [r["env_steps"] for r in rows] == [512, 1024, 1536]
    # 20-step episodes: every chunk of 512 steps over 16 envs ends some.
    assert all(r["episodes"] > 0 and np.isfinite(r["episode_reward"]) for r in rows)
    assert len((run_dir / "metrics.csv").read_text().splitlines()) == 4
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir() if p.name.isdigit()) == ["1", "2", "3"]
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    ppo = evaluation["policies"]["ppo"]
    assert ppo["episodes"] == 64 and np.isfinite(ppo["reward_mean"])
    assert (run_dir / "learning_curve.png").stat().st_size > 0
    summary = json.loads((run_dir / "training.json").read_text())
    assert summary["env_steps"] == 1536 and summary["compile_s"] > 0


def test_tensorboard_events_hold_the_chunk_metrics(run_dir):
    from tests.tensorboard_reader import read_scalars

    scalars = read_scalars(run_dir / "tensorboard")
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [step for step, _ in scalars["train/episode_reward"]] == [512, 1024, 1536]
    np.testing.assert_allclose([v for _, v in scalars["train/episode_reward"]],
                               [r["episode_reward"] for r in rows], rtol=1e-6)


def test_load_policy_gives_bounded_deterministic_quotes(run_dir):
    config, policy = checkpoint.load_policy(run_dir)
    from jaxmm.envs import make_env

    env, env_params = make_env(config)
    obs, state = env.reset(jax.random.PRNGKey(0), env_params)
    a = policy.act(policy.params, jax.random.PRNGKey(1), obs, state, env_params)
    b = policy.act(policy.params, jax.random.PRNGKey(2), obs, state, env_params)
    np.testing.assert_array_equal(a, b)
    assert np.all((np.asarray(a) >= config.env.min_depth) & (np.asarray(a) <= config.env.max_depth))


def test_interrupted_and_resumed_run_matches_uninterrupted(run_dir, tmp_path, monkeypatch):
    interrupted = tmp_path / "interrupted"
    interrupt_then_resume(monkeypatch, ["--config", CONFIG, "--no-progress", *TINY], interrupted)
    rows = [json.loads(line) for line in (interrupted / "metrics.jsonl").read_text().splitlines()]
    assert [r["chunk"] for r in rows] == [1, 2, 3]
    for resumed, straight in zip(_final_params(interrupted), _final_params(run_dir)):
        np.testing.assert_array_equal(resumed, straight)


def test_resume_may_change_the_budget_and_eval_episodes_only(run_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    with pytest.raises(CheckpointError, match="ppo.hidden_sizes"):
        training.main(["--resume", str(copy), "--no-progress", "ppo.hidden_sizes=[32]"])
    with pytest.raises(CheckpointError, match="env.volatility"):
        training.main(["--resume", str(copy), "--no-progress", "env.volatility=0.02"])


def test_finished_run_resumed_with_more_eval_episodes_is_evaluated_again(run_dir, tmp_path):
    copy = tmp_path / "again"
    shutil.copytree(run_dir, copy)
    summary = (copy / "training.json").read_text()
    training.main(["--resume", str(copy), "--no-progress", "train.eval_episodes=128"])
    assert (copy / "training.json").read_text() == summary  # the training's own timings kept
    evaluation = json.loads((copy / "evaluation.json").read_text())
    assert evaluation["policies"]["ppo"]["episodes"] == 128
    # Nothing trained: the same chunks logged, the same parameters.
    rows = [json.loads(line) for line in (copy / "metrics.jsonl").read_text().splitlines()]
    assert [r["chunk"] for r in rows] == [1, 2, 3]
    for again, first in zip(_final_params(copy), _final_params(run_dir)):
        np.testing.assert_array_equal(again, first)


def test_bad_input_is_one_clear_error(run_dir, tmp_path, capsys):
    with pytest.raises(CheckpointError, match="run directory not found"):
        training.main(["--resume", str(tmp_path / "missing"), "--no-progress"])
    with pytest.raises(ConfigError, match="unknown key"):
        training.main(["--run-dir", str(tmp_path / "x"), "--no-progress", "ppo.learnin_rate=1"])
    with pytest.raises(CheckpointError, match="already holds a run"):
        training.main(["--run-dir", str(run_dir), "--no-progress", *TINY])
    corrupt = tmp_path / "corrupt"
    shutil.copytree(run_dir, corrupt)
    latest = corrupt / "checkpoints" / "3" / "state"
    for path in latest.rglob("*"):  # the array files overwritten, the metadata left intact
        if path.is_file() and path.parent.name == "d":
            path.write_bytes(np.random.default_rng(0).bytes(path.stat().st_size))
    with pytest.raises(CheckpointError, match="corrupt"):
        checkpoint.load_policy(corrupt)
    from jaxmm.cli import EXIT_INPUT_ERROR

    # As a user sees it, in a fresh process: the one line and nothing else (no traceback from
    # the reads still in flight, no logging).
    out = subprocess.run([sys.executable, "-m", "jaxmm", "evaluate", "--policy", f"checkpoint:{corrupt}",
                          "--episodes", "4"], capture_output=True, text=True, timeout=300)
    assert out.returncode == EXIT_INPUT_ERROR
    err = out.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "checkpoints/3 is corrupt" in err[0], out.stderr
    # --resume falls back to the newest checkpoint that restores, says which, and sets the bad one aside.
    assert training.run_cli(["--resume", str(corrupt), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "checkpoints/3 is corrupt" in err and "resuming from checkpoint 2" in err
    assert len(list((corrupt / checkpoint.CORRUPT_DIR).iterdir())) == 1
    assert checkpoint.read_config(corrupt)[1]["chunk"] == 3  # chunk 3 trained again and saved


ABANDONED_READS = """
import asyncio, gc, warnings
from jaxmm import checkpoint

async def read():
    pass

pending = read()  # as a failed restore leaves its reads: never awaited, collected at exit
loop = asyncio.new_event_loop()
failed_read, unrelated = loop.create_future(), loop.create_future()  # exceptions never retrieved
failed_read.set_exception(ValueError("DATA_LOSS: Error reading ... [tensorstore_spec='{}']"))
unrelated.set_exception(ValueError("an unrelated failure"))
try:
    with checkpoint._quiet_failed_restore():
        raise ValueError("DATA_LOSS")
except ValueError:
    pass
del failed_read, unrelated  # collected after the failed restore, asyncio logs what nobody read
gc.collect()
warnings.warn("an unrelated warning", UserWarning)
"""


def test_a_failed_restore_silences_its_abandoned_reads_and_nothing_else():
    out = subprocess.run([sys.executable, "-c", ABANDONED_READS], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "never awaited" not in out.stderr and "tracemalloc" not in out.stderr, out.stderr
    assert "tensorstore_spec" not in out.stderr and "DATA_LOSS" not in out.stderr, out.stderr
    assert "an unrelated warning" in out.stderr and "an unrelated failure" in out.stderr
    control = subprocess.run([sys.executable, "-c", ABANDONED_READS.replace("raise ValueError", "pass  #")],
                             capture_output=True, text=True, timeout=120)
    # without a failed restore, Python's warning and asyncio's message still show
    assert "never awaited" in control.stderr and "tensorstore_spec" in control.stderr, control.stderr


def test_evaluating_a_checkpoint_on_another_environment_is_one_line(run_dir, capsys):
    from jaxmm.cli import EXIT_INPUT_ERROR, main
    code = main(["evaluate", "--config", "configs/lob.yaml", "--policy", f"checkpoint:{run_dir}",
                 "--episodes", "4", "env.num_steps=10", "env.calibrate_quote_model=false"])
    err = capsys.readouterr().err
    assert code == EXIT_INPUT_ERROR
    assert "trained on env" in err and "lob" in err and err.count("\n") == 1 and "Traceback" not in err

