"""Fine-tuning on recent data: the run directory, the walk-forward loop (resume, one compile) and bad input.

The parent is a tiny PPO run on the model environment calibrated on the model sample
(``configs/calibrated_model.yaml``); fine-tunes run on windows of the same sample with budgets
of one chunk, so the file stays fast.
"""

import gzip
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from jaxmm.cli import EXIT_INPUT_ERROR, main
from jaxmm.finetune import rolling as rolling_mod
from jaxmm.finetune import state as ft_state

DATA = "data/samples/model_message_10.csv.gz"
LOB_DATA = "data/samples/lob_message_10.csv.gz"
TINY_PPO = ["ppo.num_envs=16", "ppo.rollout_len=16", "ppo.num_minibatches=2"]
PARENT = ["train.total_env_steps=512", "train.chunk_env_steps=512", "train.eval_episodes=0", *TINY_PPO]
FINETUNE = ["finetune.env_steps=256", "finetune.eval_episodes=16", "finetune.baselines=[avellaneda_stoikov]",
            "finetune.anchor_weight=0.1", "eval.bootstrap_samples=0"]
ROLLING = ["--rolling", "--train-window", "600", "--step", "500", "--start", "1"]
WINDOWS = 6  # (3601 s of data - 1 s - 600 s - 500 s) // 500 s + 1
EVALUATE_NAMES = ("pnl_mean", "pnl_std", "sharpe", "reward_mean", "mean_abs_inventory")


def _hashes(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    from jaxmm.training import train

    run_dir = tmp_path_factory.mktemp("parent") / "run"
    train("configs/calibrated_model.yaml", PARENT, run_dir=run_dir, progress=False)
    return run_dir


@pytest.fixture(scope="module")
def walk(parent, tmp_path_factory):
    """A finished walk-forward run over WINDOWS windows, and the chunk traces it took."""
    out = tmp_path_factory.mktemp("rolling") / "walk"
    before = _hashes(parent)
    ft_state.CHUNK_TRACES["count"] = 0
    assert main(["finetune", "--checkpoint", str(parent), "--data", DATA, *ROLLING, "--out", str(out),
                 "--no-progress", *FINETUNE]) == 0
    return out, ft_state.CHUNK_TRACES["count"], before


def test_rolling_covers_every_window_and_compiles_once(walk, parent):
    out, traces, before = walk
    rows = (out / "rolling.csv").read_text().splitlines()
    assert rows[0].startswith("window,train_window,held_out_window,policy,reward_mean")
    policies = {"stale", "finetuned", "scratch", "avellaneda_stoikov"}
    assert len(rows) - 1 == WINDOWS * len(policies)
    assert {r.split(",")[3] for r in rows[1:]} == policies
    assert (out / "rolling.png").read_bytes()[:4] == b"\x89PNG"
    # Fine-tune and from-scratch runs of every window share one compiled chunk: windows change data only.
    assert traces == 1
    assert _hashes(parent) == before  # the parent run is only read


def test_each_window_is_a_finetune_run_directory(walk, parent):
    out, _, _ = walk
    record = json.loads((out / "window_001" / "finetune.json").read_text())
    assert record["parent"]["run_dir"] == str(parent) and record["parent"]["member"] == 0
    assert record["window"] == "501:1101" and record["held_out_window"] == "1101:1601"
    for when in ("before", "after"):
        assert all(isinstance(record[when][name], float) for name in EVALUATE_NAMES)
    assert {row["parameter"] for row in record["calibration"]} >= {"volatility", "arrival_rate", "fill_decay"}
    for name in ("config.yaml", "metrics.csv", "metrics.jsonl", "policy.msgpack"):
        assert (out / "window_001" / name).is_file(), name
    assert any((out / "window_001" / "checkpoints").iterdir())


def test_interrupted_walk_resumes_to_the_same_table(walk, parent, tmp_path, capsys):
    out, _, before = walk
    copy = tmp_path / "walk"
    shutil.copytree(out, copy)
    # As if interrupted during window 3: its record never written, window 4 never started.
    (copy / "window_003" / "finetune.json").unlink()
    shutil.rmtree(copy / "window_004")
    (copy / "rolling.csv").unlink()
    assert main(["finetune", "--checkpoint", str(parent), "--data", DATA, *ROLLING, "--out", str(copy),
                 "--no-progress", *FINETUNE]) == 0
    assert "window 2: 1001:1601 finished before" in capsys.readouterr().out
    assert (copy / "rolling.csv").read_text() == (out / "rolling.csv").read_text()
    # The same directory with other arguments is refused.
    assert main(["finetune", "--checkpoint", str(parent), "--data", DATA, *ROLLING, "--out", str(copy),
                 "--no-progress", *FINETUNE, "finetune.anchor_weight=0.5"]) == EXIT_INPUT_ERROR
    assert "holds a rolling run with other arguments (overrides)" in capsys.readouterr().err
    assert _hashes(parent) == before


def test_finetune_command_writes_its_own_run(parent, tmp_path, capsys):
    before = _hashes(parent)
    run_dir = tmp_path / "ft"
    assert main(["finetune", "--checkpoint", f"{parent}#member=0", "--data", DATA, "--window", "600:1200",
                 "--run-dir", str(run_dir), "--no-progress", *FINETUNE]) == 0
    assert "held-out window 1200:1800" in capsys.readouterr().out
    record = json.loads((run_dir / "finetune.json").read_text())
    assert record["parent"]["run_dir"] == str(parent) and record["env"] == "calibrated"
    assert record["finetune"]["anchor_weight"] == 0.1 and record["env_steps"] >= 256
    for when in ("before", "after"):
        assert all(isinstance(record[when][name], float) for name in EVALUATE_NAMES)
    config = (run_dir / "config.yaml").read_text()
    assert "total_env_steps: 256" in config and "learning_rate: 0.0001" in config
    assert _hashes(parent) == before
    # A second fine-tune into the same directory is refused rather than mixed in.
    assert main(["finetune", "--checkpoint", str(parent), "--data", DATA, "--window", "600:1200",
                 "--run-dir", str(run_dir), *FINETUNE]) == EXIT_INPUT_ERROR
    assert "already holds a run" in capsys.readouterr().err


def _bad_lobster(path: Path) -> Path:
    lines = gzip.open(DATA, "rt").read().splitlines()[:40]
    lines[20] = lines[20].replace(",1,", ",9,", 1)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("case, extra, message", [
    ("replay layout", ["--data", LOB_DATA, "--window", "1:601", "--env", "replay"],
     "the observation layout differs: the parent was trained on env model"),
    ("window outside", ["--data", DATA, "--window", "3000:4000"], "reaches outside the data, which spans 0:3601"),
    ("window empty", ["--data", DATA, "--window", "600:600"], "the end is not after the start"),
    ("no held-out window", ["--data", DATA, "--window", "3000:3601"], "held-out window 3601:4202 reaches outside"),
    ("bad data", ["--data", "BAD", "--window", "1:10"], "row 21: unknown event type 9"),
    ("member", ["--data", DATA, "--window", "1:601", "MEMBER"], "#member=3 is out of range"),
    ("network", ["--data", DATA, "--window", "1:601", "NETWORK"],
     "the network differs: ppo.hidden_sizes is [64, 64] in the parent, [8] in the fine-tune"),
])
def test_bad_input_is_one_line_and_leaves_the_parent(parent, tmp_path, capsys, case, extra, message):
    before = _hashes(parent)
    checkpoint = f"{parent}#member=3" if "MEMBER" in extra else str(parent)
    overrides = ["ppo.hidden_sizes=[8]"] if "NETWORK" in extra else []
    extra = [str(_bad_lobster(tmp_path / "bad.csv")) if a == "BAD" else a for a in extra
             if a not in ("MEMBER", "NETWORK")]
    code = main(["finetune", "--checkpoint", checkpoint, *extra, "--run-dir", str(tmp_path / "ft"),
                 "--no-progress", *FINETUNE, *overrides])
    err = capsys.readouterr().err.strip()
    assert code == EXIT_INPUT_ERROR, err
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and message in err, err
    assert _hashes(parent) == before
    assert not (tmp_path / "ft" / "finetune.json").exists()


def test_walk_forward_needs_room_for_a_window(parent, capsys):
    code = main(["finetune", "--checkpoint", str(parent), "--data", DATA, "--rolling", "--train-window", "3000",
                 "--step", "1000", "--no-progress"])
    assert code == EXIT_INPUT_ERROR
    assert "no walk-forward window fits" in capsys.readouterr().err


def test_calibrated_baselines_read_the_training_window():
    import jax.numpy as jnp
    from flax import struct

    @struct.dataclass
    class Params:
        volatility: jnp.ndarray
        dt: jnp.ndarray

    seen = {}

    def inner(params, key, obs, state, env_params):
        seen.update(volatility=float(env_params.volatility), dt=float(env_params.dt))
        return obs

    act = rolling_mod.CalibratedQuotes(inner)
    act({"policy": None, "quote_model": {"volatility": jnp.float32(2.0)}}, None, 0, None,
        Params(jnp.float32(1.0), jnp.float32(0.5)))
    assert seen == {"volatility": 2.0, "dt": 0.5}


def test_scratch_trains_with_the_parents_learner_schedule(parent):
    from jaxmm.finetune import run as ft

    session = ft.Session(ft.load_parent(str(parent)), FINETUNE)
    parent_ppo = session.parent.config.learner()
    tuned, scratch = session.config_with(), session.scratch_config()
    assert tuned.learner().learning_rate == 1e-4 != parent_ppo.learning_rate
    assert scratch.learner().learning_rate == parent_ppo.learning_rate
    assert scratch.learner().lr_final_fraction == parent_ppo.lr_final_fraction
    assert scratch.train.total_env_steps == tuned.train.total_env_steps == 256


DQN_PARENT = ["train.algo=dqn", "env.action_type=discrete", "env.depth_grid=[0.01,0.03,0.06]",
              "dqn.num_envs=8", "dqn.buffer_size=1024", "dqn.batch_size=32", "dqn.learning_starts=64",
              "dqn.hidden_sizes=[16]", "dqn.epsilon_end=0.2", "train.total_env_steps=512",
              "train.chunk_env_steps=256", "train.eval_episodes=0"]


def test_a_dqn_parent_finetunes_from_its_own_networks_with_a_fresh_buffer(tmp_path):
    """The DQN path: online and target networks, optimiser and normaliser come from the parent, the
    replay buffer and the exploration start afresh (at the parent's final epsilon), the fine-tune's
    learning-rate schedule is its own, and training moves the network while the parent stays as it was."""
    import jax
    import numpy as np

    from jaxmm.finetune import run as ft_run
    from jaxmm.finetune import windows
    from jaxmm.sweeps.stacking import member
    from jaxmm.training import train

    parent_dir = tmp_path / "dqn_parent"
    train("configs/calibrated_model.yaml", DQN_PARENT, run_dir=parent_dir, progress=False)
    before = _hashes(parent_dir)
    parent = ft_run.load_parent(str(parent_dir)).restore()
    session = ft_run.Session(parent, FINETUNE)
    span = session.open_data(DATA, None)
    window = windows.parse("600:1200", span)
    held_out = windows.held_out(window, span, session.settings.eval_seconds)
    result = ft_run.finetune_window(session, "calibrated", window, held_out, parent.state,
                                    run_dir=tmp_path / "ft", progress=False)

    record = result.record
    assert record["parent"]["run_dir"] == str(parent_dir) and record["env_steps"] >= 256
    for when in ("before", "after"):
        assert all(isinstance(record[when][name], float) for name in EVALUATE_NAMES)
    saved = (tmp_path / "ft" / "config.yaml").read_text()
    assert "learning_rate: 0.0001" in saved and "epsilon_start: 0.2" in saved

    restored = member(parent.state, 0)
    start = member(result.trainer.start(session.config_with(), result.env_params, 0, parent.state).learner, 0)
    for name in ("online", "target", "opt_state"):
        for a, b in zip(jax.tree.leaves(getattr(start, name)), jax.tree.leaves(getattr(restored, name))):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(start.buffer.size) == 0 < int(restored.buffer.size)
    trained = member(result.state.learner, 0)
    assert int(trained.buffer.size) > 0
    moved = [float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
             for a, b in zip(jax.tree.leaves(trained.online), jax.tree.leaves(restored.online))]
    assert max(moved) > 0.0 and all(np.isfinite(moved))
    assert _hashes(parent_dir) == before
