"""Resolve a policy name from the command line: a baseline or a trained checkpoint.

``checkpoint:RUN_DIR`` is the run's policy (member 0 of a sweep);
``checkpoint:RUN_DIR#member=K`` picks member K of a sweep;
``checkpoint:RUN_DIR#best=METRIC`` the member with the best METRIC (sharpe, pnl_mean or
reward_mean) on the run config's validation episodes (``eval.validation_seed``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from jaxmm.errors import CheckpointError
from jaxmm.policy import Policy

CHECKPOINT_PREFIX = "checkpoint:"
MEMBER_SELECTOR, BEST_SELECTOR = "member", "best"
BEST_METRICS = ("sharpe", "pnl_mean", "reward_mean")  # higher is better


class CheckpointSpec(NamedTuple):
    run_dir: Path
    member: int | None = None
    best: str | None = None


def parse_checkpoint_spec(spec: str) -> CheckpointSpec:
    """``checkpoint:RUN[#member=K|#best=METRIC]`` -> its parts, or one clear line."""
    body = spec[len(CHECKPOINT_PREFIX):]
    run, _, selector = body.partition("#")
    if not run:
        raise CheckpointError(f"{spec!r}: name the run directory, e.g. checkpoint:runs/my-run")
    if not selector:
        return CheckpointSpec(Path(run))
    name, _, value = selector.partition("=")
    if name == MEMBER_SELECTOR:
        try:
            member = int(value)
        except ValueError:
            raise CheckpointError(f"{spec!r}: #member= needs a whole number, got {value!r}") from None
        return CheckpointSpec(Path(run), member=member)
    if name == BEST_SELECTOR:
        if value not in BEST_METRICS:
            raise CheckpointError(f"{spec!r}: #best= takes one of {', '.join(BEST_METRICS)}, got {value!r}")
        return CheckpointSpec(Path(run), best=value)
    raise CheckpointError(f"{spec!r}: after '#' use member=K or best=METRIC, got {selector!r}")


def checkpoint_member(spec: str) -> tuple[Path, int]:
    """The run directory and member index a ``checkpoint:`` spec names."""
    parsed = parse_checkpoint_spec(spec)
    if parsed.best is not None:
        from jaxmm.sweeps.selection import best_member

        return parsed.run_dir, best_member(parsed.run_dir, parsed.best)
    return parsed.run_dir, parsed.member or 0


def checkpoint_config(spec: str, overrides=()):
    """The config a ``checkpoint:`` spec's member was trained with, plus ``overrides``."""
    from jaxmm.checkpoint import CONFIG_FILE, check_member
    from jaxmm.config import load_config
    from jaxmm.sweeps.members import member_config

    run_dir, member = checkpoint_member(spec)
    config = load_config(run_dir / CONFIG_FILE, overrides)
    values = config.sweep.members()
    check_member(run_dir, member, len(values))
    return member_config(config, member, values[member])


def resolve_policy(spec: str, config, env, env_params: Any) -> Policy:
    if spec.startswith(CHECKPOINT_PREFIX):
        from jaxmm.checkpoint import load_policy

        run_dir, member = checkpoint_member(spec)
        _, policy = load_policy(run_dir, for_env=(env, env_params), member=member)
        return policy
    from jaxmm.baselines import make_baseline

    return make_baseline(spec, config, env, env_params)
