"""The chunked outer loop: ``python train.py [--config FILE] [--run-dir DIR] [--resume RUN_DIR] [k=v ...]``.

Between compiled ``train_chunk`` calls the host shows progress, appends the
chunk's metrics to ``metrics.jsonl`` and ``metrics.csv``, and saves orbax
checkpoints. Ctrl-C (or SIGTERM) saves the last completed chunk and exits;
``--resume RUN_DIR`` continues from the latest checkpoint with bit-identical
results. At the end the trained policy is evaluated next to the configured
baselines (``evaluation.json`` and plots) and a learning curve is drawn.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import jax
import numpy as np
import yaml

from jaxmm import checkpoint
from jaxmm.config import Config, load_config
from jaxmm.errors import CheckpointError, run_guarded
from jaxmm.sweeps import placement

DEFAULT_CONFIG = Path("configs/ppo_lob.yaml")
RUNS_DIR = Path("runs")
TIMESTAMP_FORMAT = "%Y%m%d-%H%M%S"
METRICS_JSONL, METRICS_CSV = "metrics.jsonl", "metrics.csv"
LEARNING_CURVE = "learning_curve.png"
TENSORBOARD_DIR = "tensorboard"
EVENTS_FLUSH_SECONDS = 10
SUMMARY_FILE = "training.json"
MEMBER_RUN_FORMAT = "member_{:03d}"  # TensorBoard run of each sweep member


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="train.py", description="Train a market-making policy.")
    parser.add_argument("--config", help=f"experiment YAML (default: {DEFAULT_CONFIG}, or the "
                                          "saved config when resuming)")
    parser.add_argument("--run-dir", help="run directory (default: runs/<train.name>-<timestamp>)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run saved in RUN_DIR")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--distributed", action="store_true",
                        help="join the other hosts of a multi-host job (jax.distributed.initialize())")
    parser.add_argument("overrides", nargs="*", metavar="section.key=value",
                        help="override config values, e.g. train.total_env_steps=2e6")
    return parser


def run_cli(argv: Sequence[str] | None = None) -> int:
    """``main`` with user errors printed as one line (exit 2) and Ctrl-C as exit 130."""
    return run_guarded(main, argv)


def main(argv: Sequence[str] | None = None) -> Path:
    args = build_parser().parse_args(argv)
    if args.resume and args.run_dir:
        raise CheckpointError("--resume names the run directory already; drop --run-dir")
    if args.distributed:
        jax.distributed.initialize()  # JAX's own runtime; reads SLURM / the JAX_* variables
    return train(config_path=args.config, overrides=args.overrides, run_dir=args.run_dir,
                 resume=args.resume, progress=not args.no_progress)


# ---------------------------------------------------------------- run directory
def resolve_run(config_path, overrides, run_dir, resume) -> tuple[Config, Path]:
    """The config to train with and its run directory (checked against a resumed run)."""
    if resume is not None:
        run_dir = Path(resume)
        saved, _ = checkpoint.read_config(run_dir)
        requested = load_config(config_path, overrides) if config_path else saved.replace(overrides)
        checkpoint.check_compatible(saved, requested)
        return requested, run_dir
    config = load_config(config_path or DEFAULT_CONFIG, overrides)
    if run_dir is None:
        run_dir = RUNS_DIR / f"{config.train.name}-{time.strftime(TIMESTAMP_FORMAT)}"
    run_dir = Path(run_dir)
    if (run_dir / checkpoint.CHECKPOINT_DIR).exists():
        raise CheckpointError(f"{run_dir} already holds a run; continue it with --resume {run_dir}")
    return config, run_dir


class MetricsLog:
    """Appends one row per chunk and member to ``metrics.jsonl``, ``metrics.csv`` and TensorBoard
    events (one TensorBoard run per member in a sweep: ``tensorboard/member_000``, ...)."""

    def __init__(self, run_dir: Path, sweep: bool = False):
        self.jsonl = run_dir / METRICS_JSONL
        self.csv = run_dir / METRICS_CSV
        self.events_dir = run_dir / TENSORBOARD_DIR
        self.sweep = sweep
        self._events: dict[int, Any] = {}

    def _event_writer(self, member: int):
        if member not in self._events:
            from tensorboardX import SummaryWriter

            logdir = self.events_dir / MEMBER_RUN_FORMAT.format(member) if self.sweep else self.events_dir
            self._events[member] = SummaryWriter(str(logdir), flush_secs=EVENTS_FLUSH_SECONDS)
        return self._events[member]

    def close(self) -> None:
        for events in self._events.values():
            events.close()
        self._events = {}

    def write(self, rows: list[dict[str, float]]) -> None:
        self._write_files(rows)
        for row in rows:
            events = self._event_writer(int(row.get("member", 0)))
            for key, value in row.items():
                if key not in ("chunk", "env_steps", "member") and isinstance(value, float) \
                        and math.isfinite(value):
                    events.add_scalar(f"train/{key}", value, global_step=int(row["env_steps"]))
            events.flush()

    def _write_files(self, rows: list[dict[str, Any]]) -> None:
        with self.jsonl.open("a") as f:
            for row in rows:
                f.write(json.dumps({k: _json_number(v) for k, v in row.items()}) + "\n")
        new = not self.csv.exists()
        with self.csv.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            if new:
                writer.writeheader()
            writer.writerows(rows)

    def rows(self) -> list[dict]:
        if not self.jsonl.exists():
            return []
        return [json.loads(line) for line in self.jsonl.read_text().splitlines() if line.strip()]

    def truncate_after(self, chunk: int) -> None:
        """Drop rows of chunks after ``chunk`` (logged after the checkpoint a resume starts from)."""
        rows = [r for r in self.rows() if r["chunk"] <= chunk]
        for path in (self.jsonl, self.csv):
            path.unlink(missing_ok=True)
        if rows:
            self._write_files(rows)  # event files are append-only; TensorBoard keeps the newest value


def _json_number(value: Any) -> Any:
    return value if not isinstance(value, float) or math.isfinite(value) else None


def plot_learning_curve(rows: list[dict], path: Path) -> Path | None:
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    members = sorted({r.get("member", 0) for r in rows})
    for ax, key, label in ((axes[0], "episode_reward", "mean episode reward"),
                           (axes[1], "episode_abs_inventory", "mean |final inventory|")):
        for k in members:
            mine = [r for r in rows if r.get("member", 0) == k]
            steps = np.array([r["env_steps"] for r in mine], float)
            values = np.array([np.nan if r.get(key) is None else r[key] for r in mine], float)
            ax.plot(steps, values, marker="." if len(members) == 1 else None,
                    lw=1.0 if len(members) == 1 else 0.6)
        ax.set_xlabel("environment steps")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    fig.suptitle("training (exploring policy)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Turn SIGTERM into KeyboardInterrupt so ``kill`` saves a checkpoint too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------- training
def _progress_bar(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="step", unit_scale=True, disable=not enabled,
                dynamic_ncols=True)


def _postfix(metrics: dict[str, float], steps_per_s: float) -> dict[str, str]:
    def fmt(key):
        value = metrics.get(key, float("nan"))
        return "-" if not math.isfinite(value) else f"{value:.4g}"

    return {"steps/s": f"{steps_per_s:,.0f}", "reward": fmt("episode_reward"),
            "pnl": fmt("episode_pnl"), "|inv|": fmt("episode_abs_inventory")}


def compile_chunk(train_chunk, state):
    """Compile ahead of time (so compile time is measured apart); returns (fn, seconds)."""
    start = time.perf_counter()
    if hasattr(train_chunk, "lower"):
        train_chunk = train_chunk.lower(state).compile()
    return train_chunk, time.perf_counter() - start


def chunk_rows(population, metrics: dict[str, np.ndarray], chunk: int, steps_per_chunk: int,
               wall_time: float, steps_per_s: float) -> list[dict[str, Any]]:
    """One row per member: chunk, member, its swept values, counters, then the chunk's metrics."""
    rows = []
    for m in population.members:
        row: dict[str, Any] = {"chunk": chunk, "member": m.index}
        row.update({key: value for key, value in m.values.items()})
        row.update({"env_steps": chunk * steps_per_chunk, "wall_time": wall_time, "steps_per_s": steps_per_s})
        row.update({key: float(np.asarray(value)[m.index]) for key, value in metrics.items()})
        rows.append(row)
    return rows


def _mean_metrics(metrics: dict[str, np.ndarray]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        finite = np.asarray(value)[np.isfinite(value)]
        out[key] = float(finite.mean()) if finite.size else float("nan")
    return out


def run_chunks(run_chunk: Callable, state: Any, chunk: int, total_chunks: int, *, all_steps: int,
               checkpoint_every: int, save: Callable[[int, Any], None],
               log_rows: Callable[[dict, int, float, float], None], progress: bool = True,
               on_interrupt: Callable[[int], None] | None = None) -> tuple[Any, int, float]:
    """Run chunks ``chunk + 1 .. total_chunks`` of a compiled ``run_chunk``: progress bar, one
    ``log_rows(metrics, chunk, wall_time, steps_per_s)`` per chunk, ``save(chunk, state)`` every
    ``checkpoint_every`` chunks and at the end. Ctrl-C (or SIGTERM) saves the last finished chunk,
    calls ``on_interrupt(chunk)`` and re-raises. Returns (state, chunk, seconds in chunks)."""
    saved_chunk = chunk
    start = time.perf_counter()
    run_s = 0.0
    bar = _progress_bar(total_chunks * all_steps, chunk * all_steps, progress)
    try:
        with sigterm_as_interrupt():
            while chunk < total_chunks:
                tick = time.perf_counter()
                new_state, metrics = run_chunk(state)
                metrics = {k: np.asarray(v, np.float64) for k, v in placement.to_host(metrics).items()}
                elapsed = time.perf_counter() - tick
                steps_per_s = all_steps / elapsed
                # A row logged before an interrupt is dropped on resume if its state was not saved.
                log_rows(metrics, chunk + 1, time.perf_counter() - start, steps_per_s)
                state, chunk = new_state, chunk + 1
                run_s += elapsed
                bar.update(all_steps)
                bar.set_postfix(_postfix(_mean_metrics(metrics), steps_per_s))
                if chunk % checkpoint_every == 0 or chunk == total_chunks:
                    save(chunk, state)
                    saved_chunk = chunk
    except KeyboardInterrupt:
        bar.close()
        if chunk > saved_chunk:
            save(chunk, state)
        if on_interrupt is not None:
            on_interrupt(chunk)
        raise
    bar.close()
    return state, chunk, run_s


def train(config_path=None, overrides: Sequence[str] = (), run_dir=None, resume=None,
          progress: bool = True) -> Path:
    """Train (or resume) a run, a sweep's members all together; returns its directory."""
    from jaxmm.population import build_population

    config, run_dir = resolve_run(config_path, overrides, run_dir, resume)
    population = build_population(config)
    learner = population.learner
    primary = jax.process_index() == 0
    run_dir.mkdir(parents=True, exist_ok=True)
    if primary:
        (run_dir / checkpoint.CONFIG_FILE).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    steps_per_chunk = learner.env_steps_per_chunk
    total_chunks = math.ceil(config.train.total_env_steps / steps_per_chunk)
    log = MetricsLog(run_dir, sweep=population.is_sweep)
    manager = checkpoint.open_manager(run_dir, keep=config.train.keep_checkpoints)
    state = population.init()
    chunk = 0
    if resume is not None:
        state, meta = checkpoint.restore_state(manager, run_dir, state, fallback=True)
        chunk = int(meta["chunk"])
        if primary:
            log.truncate_after(chunk)
    mode = placement.resolve_mode(config.train.sharding, population.size, config.learner().num_envs)
    shardings = placement.state_shardings(state, mode, learner.env_axis_fields)
    state = placement.place(state, shardings)
    first_chunk = chunk
    trains = chunk < total_chunks  # False: a finished run resumed only to be evaluated again
    run_chunk, compile_s = (compile_chunk(placement.jit_chunk(population.chunk, shardings), state)
                            if trains else (None, 0.0))
    all_steps = steps_per_chunk * population.size

    def save(at_chunk: int, at_state) -> None:
        checkpoint.save(manager, at_chunk, at_state, config,
                        {"chunk": at_chunk, "env_steps": at_chunk * steps_per_chunk, "algo": config.train.algo,
                         "members": population.size})

    def log_rows(metrics, at_chunk: int, wall_time: float, steps_per_s: float) -> None:
        if primary:
            log.write(chunk_rows(population, metrics, at_chunk, steps_per_chunk, wall_time, steps_per_s))

    def interrupted(at_chunk: int) -> None:
        log.close()
        manager.wait_until_finished()
        manager.close()
        print(f"saved checkpoint at chunk {at_chunk}/{total_chunks}; continue with: "
              f"python train.py --resume {run_dir}")

    state, chunk, run_s = run_chunks(run_chunk, state, chunk, total_chunks, all_steps=all_steps,
                                     checkpoint_every=config.train.checkpoint_every_chunks, save=save,
                                     log_rows=log_rows, progress=progress and primary, on_interrupt=interrupted)
    log.close()
    manager.wait_until_finished()
    manager.close()

    steps_run = (chunk - first_chunk) * all_steps
    summary = {
        "env_steps": chunk * steps_per_chunk, "chunks": chunk, "env_steps_per_chunk": steps_per_chunk,
        "members": population.size, "sharding": mode, "devices": jax.device_count(),
        "device": str(jax.devices()[0]), "compile_s": compile_s, "train_s": run_s,
        "steps_per_s_excluding_compile": steps_run / run_s if run_s > 0 else None,
        "steps_per_s_including_compile": steps_run / (run_s + compile_s) if steps_run else None,
    }
    if not primary:
        return run_dir
    plot_learning_curve(log.rows(), run_dir / LEARNING_CURVE)
    state = jax.device_get(state)
    if population.is_sweep:
        from jaxmm.sweeps.report import evaluate_sweep

        evaluate_sweep(population, state, run_dir)
    else:
        evaluation = evaluate_run(config, population.env, population.member_env_params(0),
                                  population.policy(state, 0), run_dir)
        if evaluation:
            from jaxmm.reporting import format_table

            print(format_table(evaluation))
    if trains:  # a re-evaluation keeps the summary of the training that made the run
        (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    print(f"run directory: {run_dir}")
    return run_dir


def evaluate_run(config: Config, env, env_params, policy, run_dir: Path) -> dict[str, Any]:
    """Evaluate the trained policy and the configured baselines on fresh episodes."""
    episodes = config.train.eval_episodes
    if episodes == 0:
        return {}
    from jaxmm.evaluate import evaluate_policy
    from jaxmm.reporting import write_evaluation

    policies = [policy]
    if config.train.baselines:
        from jaxmm.baselines import make_baseline

        policies += [make_baseline(name, config, env, env_params) for name in config.train.baselines]
    results = {p.name: evaluate_policy(env, env_params, p, episodes, seed=config.eval.seed,
                                       batch_size=config.eval.batch_size) for p in policies}
    write_evaluation(run_dir, results, extra={"episodes": episodes, "seed": config.eval.seed,
                                              "config": config.to_dict()})
    return {name: result["metrics"] for name, result in results.items()}
