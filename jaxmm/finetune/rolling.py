"""The rolling walk-forward loop: fine-tune on each window, evaluate on the one after it.

    python -m jaxmm finetune --checkpoint RUN --data PATH --rolling --train-window W --step S [--start T]

Training windows of ``W`` seconds start every ``S`` seconds; each is followed by a held-out window
(``finetune.eval_seconds``, default ``S``), on which five kinds of policy are evaluated with the
same episodes: ``stale`` (the parent, never fine-tuned), ``finetuned`` (fine-tuned on the window;
with ``finetune.chain`` from the previous window's fine-tuned policy, else from the parent),
``scratch`` (a fresh network trained on the window with the same budget and the parent's learner
hyperparameters) and the baselines of ``finetune.baselines`` (closed-form policies with the quote
model calibrated on the *training* window, heuristics as configured). Every kind trains with the same
compiled chunk.

The output directory holds ``rolling.json`` (the arguments), ``window_000/`` ... (each a fine-tune
run directory with ``finetune.json``), ``rolling.csv`` (one row per window and policy) and
``rolling.png``. Interrupted, the same command with ``--out DIR`` resumes at the first window
without ``finetune.json`` and ends with the same table: a finished window's policy is read back
bit for bit (``policy.msgpack``), and nothing in the table depends on timing.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from jaxmm.errors import CheckpointError
from jaxmm.finetune import run as ft
from jaxmm.finetune import windows
from jaxmm.finetune.state import FinetuneState
from jaxmm.policy import Policy

MANIFEST, TABLE, PLOT = "rolling.json", "rolling.csv", "rolling.png"
WINDOW_DIR = "window_{:03d}"
POLICY_FILE = "policy.msgpack"
TABLE_METRICS = ("reward_mean", "reward_sem", "pnl_mean", "pnl_std", "sharpe", "mean_abs_inventory",
                 "fills_per_episode")
PLOT_METRICS = (("reward_mean", "mean episode reward"), ("sharpe", "Sharpe (episode PnL mean / sd)"))
FIGURE_SIZE, FIGURE_DPI = (11, 4), 110


@dataclasses.dataclass(frozen=True)
class CalibratedQuotes:
    """``act`` of a closed-form policy that reads its quote model from the training window's
    calibration instead of the evaluated environment's (no look-ahead)."""

    inner: Any

    def __call__(self, params, key, obs, state, env_params):
        return self.inner(params["policy"], key, obs, state, env_params.replace(**params["quote_model"]))


def baselines(names: Sequence[str], config, env, env_params, fitted_params) -> list[Policy]:
    from jaxmm.baselines import make_baseline
    from jaxmm.finetune.environments import quote_model_fields

    fields = quote_model_fields(env_params, fitted_params)
    out = []
    for name in names:
        policy = make_baseline(name, config, env, env_params)
        out.append(Policy(name, CalibratedQuotes(policy.act), {"policy": policy.params, "quote_model": fields}))
    return out


def _arguments(checkpoint_spec, data, trades, kind, train_seconds, step_seconds, start, overrides) -> dict:
    return {"checkpoint": str(checkpoint_spec), "data": str(data), "trades": None if trades is None else str(trades),
            "env": kind, "train_window": train_seconds, "step": step_seconds, "start": start,
            "overrides": list(overrides)}


def _open_out(out: Path, arguments: dict) -> None:
    manifest = out / MANIFEST
    if manifest.exists():
        saved = json.loads(manifest.read_text())
        if saved != arguments:
            changed = sorted(k for k in arguments if saved.get(k) != arguments[k])
            raise CheckpointError(f"{out} holds a rolling run with other arguments ({', '.join(changed)}); resume it "
                                  "with the same command or choose another --out")
        return
    out.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(arguments, indent=2) + "\n")


def _rows(index: int, window: windows.Window, held_out: windows.Window, metrics: dict[str, dict]) -> list[dict]:
    return [{"window": index, "train_window": window.spec, "held_out_window": held_out.spec, "policy": name,
             **{key: _number(values.get(key)) for key in TABLE_METRICS}} for name, values in metrics.items()]


def _number(value):
    return None if value is None else float(value)


def write_table(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(PLOT_METRICS), figsize=FIGURE_SIZE)
    policies = list(dict.fromkeys(r["policy"] for r in rows))
    for axis, (key, label) in zip(axes, PLOT_METRICS):
        for name in policies:
            mine = [r for r in rows if r["policy"] == name]
            values = [np.nan if r[key] is None else r[key] for r in mine]
            axis.plot([r["window"] for r in mine], values, marker="o", label=name)
        axis.set(xlabel="window (held-out evaluation)", ylabel=label)
        axis.grid(alpha=0.3)
    axes[0].legend()
    figure.suptitle("walk-forward: each policy on the held-out window after its training window")
    figure.tight_layout()
    figure.savefig(path, dpi=FIGURE_DPI)
    plt.close(figure)


def _save_policy(path: Path, state: FinetuneState) -> None:
    from flax import serialization

    path.write_bytes(serialization.to_bytes(ft.carried(state)))


def _load_policy(path: Path, template: FinetuneState) -> dict:
    from flax import serialization

    return serialization.from_bytes(ft.carried(template), path.read_bytes())


def rolling(checkpoint_spec: str, data, *, train_seconds: float, step_seconds: float, start: float = 0.0,
            trades=None, env: str | None = None, overrides: Sequence[str] = (), out=None,
            progress: bool = True) -> Path:
    """Run (or resume) the walk-forward loop; returns the output directory."""
    parent = ft.load_parent(checkpoint_spec)
    session = ft.Session(parent, overrides)
    kind = ft.check_kind(env or session.settings.env)
    span = session.open_data(data, trades)
    pairs = windows.walk_forward(span, start, train_seconds, step_seconds, session.settings.eval_seconds)
    out = Path(out) if out else ft.default_run_dir(parent, "rolling")
    _open_out(out, _arguments(checkpoint_spec, data, trades, kind, train_seconds, step_seconds, start, overrides))
    settings = session.settings
    start_policy = parent.restore().state
    rows: list[dict] = []
    for index, (window, held_out) in enumerate(pairs):
        directory = out / WINDOW_DIR.format(index)
        record_path = directory / ft.FINETUNE_FILE
        if record_path.exists():  # finished before an interruption
            record = json.loads(record_path.read_text())
            rows += record["rolling_rows"]
            start_policy = directory / POLICY_FILE if settings.chain else parent.state
            print(f"window {index}: {window.spec} finished before; read back")
            continue
        if directory.exists():
            shutil.rmtree(directory)  # an unfinished window starts again
        if isinstance(start_policy, Path):
            start_policy = _resume_start(session, kind, window, start_policy)
        result = ft.finetune_window(session, kind, window, held_out, start_policy, run_dir=directory,
                                    progress=progress)
        metrics = _compare(session, result, window, held_out, progress)
        window_rows = _rows(index, window, held_out, metrics)
        _save_policy(directory / POLICY_FILE, result.state)
        ft.write_record(record_path, {**result.record, "rolling_rows": window_rows})
        rows += window_rows
        write_table(out / TABLE, rows)
        plot(rows, out / PLOT)
        print(f"window {index}: trained on {window.spec}, evaluated on {held_out.spec}")
        start_policy = ft.carried(result.state) if settings.chain else parent.state
    write_table(out / TABLE, rows)
    plot(rows, out / PLOT)
    print(f"wrote {out / TABLE} and {out / PLOT}")
    return out


def _resume_start(session: ft.Session, kind: str, window: windows.Window, path: Path) -> dict:
    """The previous window's fine-tuned policy, read back into the structure of this window's state."""
    from jaxmm.finetune.environments import BOTH, CALIBRATED

    primary = CALIBRATED if kind == BOTH else kind
    _, config = session.window_env(primary, window)
    trainer, env_params = session.trainer(primary, config)
    template = trainer.start(config, env_params, session.settings.seed, session.parent.state)
    return _load_policy(path, template)


def _compare(session: ft.Session, result: ft.WindowResult, window, held_out, progress: bool) -> dict[str, dict]:
    """Stale, fine-tuned, from-scratch and baseline policies on the held-out window."""
    settings = session.settings
    trainer = result.trainer
    config = session.scratch_config(source=f"scratch on window {window.spec}")
    scratch_start = trainer.start(config, result.env_params, settings.seed)
    scratch_state, _ = ft.train_state(trainer, scratch_start, settings.env_steps, config=config, run_dir=None,
                                      progress=progress)
    eval_config, eval_env, eval_params = session.eval_env(held_out)
    finetuned = trainer.policy(result.state)._replace(name=ft.FINETUNED)
    # The parent's network in the fine-tune's act (the same network): one compiled rollout for both.
    stale = finetuned._replace(name=ft.STALE, params=session.parent.policy().params)
    policies = [stale, finetuned,
                trainer.policy(scratch_state)._replace(name=ft.SCRATCH)]
    policies += baselines(settings.baselines, eval_config, eval_env, eval_params, result.env_params)
    return ft.evaluate(eval_env, eval_params, policies, eval_config)
