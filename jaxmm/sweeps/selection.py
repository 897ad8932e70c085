"""Pick a sweep member by a metric on validation episodes (``checkpoint:RUN#best=METRIC``)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from jaxmm.errors import CheckpointError

SWEEP_JSON = "sweep.json"


def validation_metrics(population, state) -> list[dict]:
    """Every member's evaluation metrics on ``eval.validation_seed`` (``eval.episodes`` episodes)."""
    from jaxmm.evaluate import evaluate_policy

    cfg = population.config.eval
    return [evaluate_policy(population.env, population.member_env_params(m.index),
                            population.policy(state, m.index), cfg.episodes, seed=cfg.validation_seed,
                            batch_size=cfg.batch_size)["metrics"] for m in population.members]


def pick(metrics: list[dict], metric: str) -> int:
    values = np.asarray([np.nan if m.get(metric) is None else m[metric] for m in metrics], float)
    if not np.isfinite(values).any():
        raise CheckpointError(f"#best={metric}: no member has a finite {metric} on the validation episodes")
    return int(np.nanargmax(values))


@functools.lru_cache(maxsize=None)
def _best(run_dir: Path, metric: str) -> int:
    from jaxmm.checkpoint import read_config, restore_population

    config, _ = read_config(run_dir)
    saved = run_dir / SWEEP_JSON
    if saved.is_file():
        record = json.loads(saved.read_text()).get("validation", {})
        if record.get("seed") == config.eval.validation_seed and record.get("episodes") == config.eval.episodes:
            return pick(record["members"], metric)
    population, state = restore_population(run_dir)
    return pick(validation_metrics(population, state), metric)


def best_member(run_dir: str | Path, metric: str) -> int:
    """Index of the member with the highest ``metric`` on the run's validation episodes."""
    return _best(Path(run_dir).resolve(), metric)
