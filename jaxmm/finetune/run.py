"""One fine-tune: restore the parent's policy, train it on a window's environment, evaluate it on
the held-out window that follows, and write a run directory of its own.

The fine-tune's run directory holds what a training run's does (``config.yaml``, ``metrics.jsonl``
and ``metrics.csv``, ``checkpoints/``; ``python -m jaxmm evaluate --policy checkpoint:DIR`` reads it)
and ``finetune.json``: the parent (run directory, member, its checkpoint's chunk and environment
steps), the data, both windows, the environment kinds, the budget, the calibration table and notes,
and the metrics of the policy before and after on the held-out window, under ``evaluate``'s names.
The parent's run directory is only read (its checkpoint manager is opened read-only).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from jaxmm.config import Config, config_from_dict
from jaxmm.config.loader import apply_overrides
from jaxmm.errors import CheckpointError, ConfigError, DataError
from jaxmm.finetune import environments as envs
from jaxmm.finetune import windows
from jaxmm.finetune.state import FinetuneState, Trainer, carried_fields, graft
from jaxmm.policy import Policy

FINETUNE_FILE = "finetune.json"
RUN_SUFFIX = "finetune"
RUNS_DIR = Path("runs")
TIMESTAMP_FORMAT = "%Y%m%d-%H%M%S"
# The policies of a held-out evaluation (rolling.csv's ``policy`` column).
STALE, BEFORE, FINETUNED, SCRATCH = "stale", "before", "finetuned", "scratch"


@dataclasses.dataclass
class Parent:
    """The parent run's member: its config at once, its restored state (stacked, one member) once
    :meth:`restore` has run."""

    run_dir: Path
    member: int
    config: Config
    meta: dict
    population: Any = None
    state: Any = None

    @property
    def label(self) -> str:
        return f"{self.run_dir}#member={self.member}"

    @property
    def env(self):
        return self.restore().population.env

    def restore(self) -> "Parent":
        """Restore the checkpoint (read-only), once."""
        if self.state is None:
            from jaxmm.checkpoint import restore_population
            from jaxmm.sweeps.stacking import member, stack

            self.population, state = restore_population(self.run_dir)
            self.state = stack([member(state, self.member)])
        return self

    def policy(self) -> Policy:
        from jaxmm.sweeps.stacking import member

        self.restore()
        return self.population.learner.policy(member(self.state, 0))._replace(name=STALE)


def load_parent(spec: str) -> Parent:
    """``RUN_DIR[#member=K|#best=METRIC]`` (the ``checkpoint:`` prefix optional): its saved config;
    a member that does not exist is one line before anything is restored."""
    from jaxmm.checkpoint import check_member, read_config
    from jaxmm.policies import CHECKPOINT_PREFIX, checkpoint_member
    from jaxmm.sweeps.members import member_config

    spec = spec if spec.startswith(CHECKPOINT_PREFIX) else CHECKPOINT_PREFIX + spec
    run_dir, index = checkpoint_member(spec)
    saved, meta = read_config(run_dir)
    members = saved.sweep.members()
    check_member(run_dir, index, len(members))
    return Parent(run_dir, index, member_config(saved, index, members[index]), meta)


def _learner_schedule(config: Config, settings) -> dict[str, dict[str, Any]]:
    """The learner keys that carry the fine-tune's own learning-rate schedule (and, for DQN, no
    restart of the exploration schedule: its counters start at 0 again)."""
    final = settings.learning_rate * settings.lr_final_fraction
    if config.train.algo == "dqn":
        return {"dqn": {"learning_rate": settings.learning_rate, "learning_rate_end": final,
                        "learning_rate_decay_steps": settings.env_steps,
                        "epsilon_start": config.learner().epsilon_end}}
    return {config.train.algo: {"learning_rate": settings.learning_rate,
                                "lr_final_fraction": settings.lr_final_fraction}}


class Session:
    """A parent, a data file and the command's overrides; builds each window's config, environment
    and starting state, and keeps one :class:`Trainer` (one compiled chunk) per environment kind."""

    def __init__(self, parent: Parent, overrides: Sequence[str] = ()):
        self.parent, self.overrides = parent, list(overrides)
        self.span: windows.DataSpan | None = None  # set by open_data
        self.settings = self.config_with().finetune
        self.trainers: dict[str, Trainer] = {}

    def open_data(self, data, trades=None) -> windows.DataSpan:
        """Read and check the data file once; its span bounds every window."""
        self.span = windows.data_span(data, trades, self.settings.step_seconds)
        return self.span

    def config_with(self, env_section=None, source: str = "fine-tune", schedule: bool = True) -> Config:
        """The fine-tune's config: the parent's with ``env_section``, the overrides and the budget;
        with ``schedule``, the fine-tune's own learning-rate schedule, without it the parent's learner
        schedule (a network trained from scratch: see :meth:`scratch_config`)."""
        raw = self.parent.config.to_dict()
        raw["sweep"] = {}
        if env_section is not None:
            raw["env"] = env_section.to_dict()
        apply_overrides(raw, self.overrides)
        first = config_from_dict(raw, f"{source} of {self.parent.label} (with overrides)")
        settings = first.finetune
        raw.setdefault("train", {}).update(total_env_steps=settings.env_steps, eval_episodes=0, seed=settings.seed,
                                           baselines=[], name=f"{first.train.name}-{RUN_SUFFIX}")
        if schedule:
            for section, values in _learner_schedule(first, settings).items():
                raw.setdefault(section, {}).update(values)
        return config_from_dict(raw, f"{source} of {self.parent.label} (with overrides)")

    def scratch_config(self, source: str = "scratch") -> Config:
        """The config of the from-scratch comparison: the fine-tune's budget, the parent's learner
        hyperparameters (its learning rate and schedule, DQN's exploration): a fresh network trained
        with the fine-tune's small rate, or without exploration, would be a straw man."""
        return self.config_with(source=source, schedule=False)

    def window_env(self, kind: str, window: windows.Window) -> tuple[envs.WindowEnv, Config]:
        try:
            built = envs.window_section(kind, self.parent.config.env, self.span, window,
                                        self.settings.step_seconds, self.settings.seed)
        except ConfigError as err:
            raise ConfigError(f"{self.parent.label}: {err}") from None
        built = envs.keep_action_bounds(built, self.parent.env)
        config = self.config_with(built.section, f"window {window.spec}")
        envs.check_learner(self.parent.label, self.parent.config, config)
        return built, config

    def trainer(self, kind: str, config: Config) -> tuple[Trainer, Any]:
        """The trainer for ``kind`` that runs ``config``'s environment, and its env params."""
        from jaxmm.envs import make_env
        from jaxmm.population import build_population

        known = self.trainers.get(kind)
        if known is not None:
            env, env_params = self.build(make_env, config)
            if known.accepts(env, env_params):
                return known, env_params
        population = self.build(build_population, config)
        envs.check_layout(self.parent.label, self.parent.env, population.env)
        self.trainers[kind] = Trainer(population)
        return self.trainers[kind], population.member_env_params(0)

    def build(self, builder, config: Config):
        """``builder(config)``, with a window the environment cannot be built on as one line."""
        try:
            return builder(config)
        except ValueError as err:
            raise DataError(f"{self.span.data}: cannot build env {config.env.name} on window "
                            f"{getattr(config.env, 'window', None) or 'calibrated'}: {err}") from None

    def eval_env(self, window: windows.Window):
        """(config, env, env params) of the held-out window."""
        from jaxmm.envs import make_env

        kind = envs.eval_kind(self.settings.eval_env, self.parent.config.env)
        _, config = self.window_env(kind, window)
        env, env_params = self.build(make_env, config)
        envs.check_layout(f"{self.parent.label} (held-out window {window.spec})", self.parent.env, env)
        return config, env, env_params


def train_state(trainer: Trainer, state: FinetuneState, env_steps: int, *, config: Config,
                run_dir: Path | None, progress: bool, run_chunk=None) -> tuple[FinetuneState, dict]:
    """Train for ``env_steps`` with the shared loop; with ``run_dir``, log metrics and checkpoint the
    learner state there. Returns (state, timings)."""
    from jaxmm import checkpoint
    from jaxmm.training import MetricsLog, chunk_rows, run_chunks

    run_chunk = run_chunk or trainer.run_chunk
    total = trainer.chunks(env_steps)
    steps = trainer.steps_per_chunk
    log = MetricsLog(run_dir) if run_dir is not None else None
    manager = checkpoint.open_manager(run_dir, keep=config.train.keep_checkpoints) if run_dir else None

    def save(chunk: int, at: FinetuneState) -> None:
        if manager is not None:
            checkpoint.save(manager, chunk, at.learner, config, {"chunk": chunk, "env_steps": chunk * steps,
                                                                 "algo": config.train.algo, "members": 1})

    def log_rows(metrics, chunk: int, wall_time: float, steps_per_s: float) -> None:
        if log is not None:
            log.write(chunk_rows(trainer.population, metrics, chunk, steps, wall_time, steps_per_s))

    def close(_chunk: int = 0) -> None:
        if log is not None:
            log.close()
        if manager is not None:
            manager.wait_until_finished()
            manager.close()

    start = time.perf_counter()
    state, _, run_s = run_chunks(run_chunk, state, 0, total, all_steps=steps,
                                 checkpoint_every=config.train.checkpoint_every_chunks, save=save,
                                 log_rows=log_rows, progress=progress, on_interrupt=close)
    close()
    return state, {"env_steps": total * steps, "chunks": total, "train_s": run_s,
                   "wall_s": time.perf_counter() - start}


def alternating(primary: Trainer, other: Trainer, other_state: FinetuneState):
    """A chunk function training one policy on two environments in turn (``--env both``): odd chunks
    on ``primary``'s, even ones on ``other``'s, the network, optimiser and normaliser handed over."""
    held = {"state": other_state, "turn": 0}

    def run_chunk(state: FinetuneState):
        held["turn"] += 1
        if held["turn"] % 2:
            return primary.run_chunk(state)
        mine = held["state"]
        mine = mine.replace(learner=graft(state.learner, mine.learner), anchor=state.anchor,
                            anchor_weight=state.anchor_weight)
        mine, metrics = other.run_chunk(mine)
        held["state"] = mine
        return state.replace(learner=graft(mine.learner, state.learner)), metrics

    return run_chunk


def evaluate(env, env_params, policies: Sequence[Policy], config: Config) -> dict[str, dict]:
    """Metrics of every policy on the held-out environment (``evaluate``'s names)."""
    from jaxmm.evaluate import evaluate_policy

    episodes = config.finetune.eval_episodes
    batch = min(config.eval.batch_size, episodes)
    return {p.name: evaluate_policy(env, env_params, p, episodes, seed=config.eval.seed, batch_size=batch,
                                    eval_config=config.eval)["metrics"] for p in policies}


@dataclasses.dataclass
class WindowResult:
    state: FinetuneState
    trainer: Trainer
    env_params: Any
    record: dict


def finetune_window(session: Session, kind: str, window: windows.Window, held_out: windows.Window,
                    start_learner, *, run_dir: Path | None, progress: bool = True,
                    before_name: str = BEFORE) -> WindowResult:
    """Fine-tune ``start_learner`` (a stacked learner state, or the carried fields of one) on ``window``
    and evaluate it before and after on ``held_out``."""
    settings = session.settings
    primary_kind = envs.CALIBRATED if kind == envs.BOTH else kind
    built, config = session.window_env(primary_kind, window)
    trainer, env_params = session.trainer(primary_kind, config)
    state = trainer.start(config, env_params, settings.seed, start_learner, settings.anchor_weight,
                          session.parent.label)
    run_chunk = None
    notes = list(built.notes)
    if kind == envs.BOTH:
        replay_built, replay_config = session.window_env(envs.REPLAY, window)
        replay_trainer, replay_params = session.trainer(envs.REPLAY, replay_config)
        replay_state = replay_trainer.start(replay_config, replay_params, settings.seed, start_learner,
                                            settings.anchor_weight, session.parent.label)
        run_chunk = alternating(trainer, replay_trainer, replay_state)
        notes += replay_built.notes
    eval_config, eval_env, eval_params = session.eval_env(held_out)
    before = trainer.policy(state)._replace(name=before_name)
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        import yaml

        from jaxmm.checkpoint import CONFIG_FILE

        (run_dir / CONFIG_FILE).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    state, timings = train_state(trainer, state, settings.env_steps, config=config, run_dir=run_dir,
                                 progress=progress, run_chunk=run_chunk)
    after = trainer.policy(state)._replace(name=FINETUNED)
    metrics = evaluate(eval_env, eval_params, [before, after], eval_config)
    record = {
        "parent": {"run_dir": str(session.parent.run_dir), "member": session.parent.member,
                   "chunk": session.parent.meta.get("chunk"), "env_steps": session.parent.meta.get("env_steps")},
        "data": session.span.data, "trades": session.span.trades,
        "window": window.spec, "held_out_window": held_out.spec, "env": kind,
        "eval_env": envs.eval_kind(settings.eval_env, session.parent.config.env),
        "finetune": settings.to_dict(), **timings,
        "calibration": built.table, "notes": notes,
        "before": metrics[before_name], "after": metrics[FINETUNED],
    }
    return WindowResult(state, trainer, env_params, record)


def check_kind(kind: str) -> str:
    if kind not in envs.ENV_KINDS:
        raise ConfigError(f"--env must be one of {', '.join(envs.ENV_KINDS)}, got {kind!r}")
    return kind


def default_run_dir(parent: Parent, suffix: str = RUN_SUFFIX) -> Path:
    return RUNS_DIR / f"{parent.config.train.name}-{suffix}-{time.strftime(TIMESTAMP_FORMAT)}"


def check_new_run_dir(run_dir: Path, parent: Parent) -> Path:
    from jaxmm.checkpoint import CHECKPOINT_DIR

    if run_dir.resolve() == parent.run_dir.resolve():
        raise CheckpointError(f"--run-dir {run_dir} is the parent run; a fine-tune writes a run directory of its own")
    if (run_dir / CHECKPOINT_DIR).exists() or (run_dir / FINETUNE_FILE).exists():
        raise CheckpointError(f"{run_dir} already holds a run; choose another --run-dir")
    return run_dir


def finetune(checkpoint_spec: str, data, window: str, *, trades=None, env: str | None = None,
             overrides: Sequence[str] = (), run_dir=None, progress: bool = True) -> dict:
    """``jaxmm finetune``: returns the ``finetune.json`` record (also written to the run directory)."""
    from jaxmm.reporting import format_table

    parent = load_parent(checkpoint_spec)
    session = Session(parent, overrides)
    kind = check_kind(env or session.settings.env)
    span = session.open_data(data, trades)
    train_window = windows.parse(window, span)
    held_out = windows.held_out(train_window, span, session.settings.eval_seconds)
    run_dir = check_new_run_dir(Path(run_dir) if run_dir else default_run_dir(parent), parent)
    result = finetune_window(session, kind, train_window, held_out, parent.restore().state, run_dir=run_dir,
                             progress=progress)
    record = {**result.record, "run_dir": str(run_dir)}
    write_record(run_dir / FINETUNE_FILE, record)
    print(format_table({BEFORE: record["before"], FINETUNED: record["after"]}))
    print(f"held-out window {held_out.spec}; run directory: {run_dir}")
    return record


def write_record(path: Path, record: dict) -> None:
    from jaxmm.reporting import write_json

    write_json(path, record)


def carried(state: FinetuneState) -> dict:
    """The policy part of a fine-tuned state (what the next window of a chained walk starts from)."""
    return {name: getattr(state.learner, name) for name in carried_fields(state.learner)}

