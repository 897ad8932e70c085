"""Orbax checkpoints of a whole learner state, with the config saved next to it.

A run directory holds ``config.yaml`` (the resolved config) and
``checkpoints/<chunk>/`` with three items: ``state`` (the learner's state
pytree: network, optimiser, normaliser, environment states, PRNG key,
counters), ``config`` (the config as JSON, authoritative for resuming) and
``meta`` (chunk and environment-step counters). Problems with user input
(missing directory, no or corrupt checkpoint, incompatible config) raise
:class:`~jaxmm.errors.CheckpointError`.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Mapping

import jax
import orbax.checkpoint as ocp

from jaxmm.config import Config, config_from_dict
from jaxmm.errors import CheckpointError, ConfigError
from jaxmm.policy import Policy
from jaxmm.population import build_population

CHECKPOINT_DIR = "checkpoints"
CORRUPT_DIR = "corrupt_checkpoints"  # checkpoints a resume could not restore, set aside
FAILED_RESTORE_DRAIN_S = 0.5  # reads of a failed restore still in flight mostly finish within this
UNAWAITED_COROUTINE = r"coroutine '.*' was never awaited"
# What asyncio logs when a future whose exception nobody read is collected (as late as exit).
UNRETRIEVED_EXCEPTION = ("Future exception was never retrieved", "Task exception was never retrieved")
CONFIG_FILE = "config.yaml"
STATE_ITEM, CONFIG_ITEM, META_ITEM = "state", "config", "meta"
# The config values a resumed run may change: the training budget, and how many episodes the
# finished run is evaluated on (read after training only; a finished run resumed with more
# re-evaluates without training).
RESUMABLE_KEYS = frozenset({"train.total_env_steps", "train.eval_episodes"})


def open_manager(run_dir: str | Path, keep: int | None = None, read_only: bool = False) -> ocp.CheckpointManager:
    """A checkpoint manager on ``run_dir/checkpoints`` keeping the ``keep`` latest steps."""
    directory = Path(run_dir).absolute() / CHECKPOINT_DIR
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)  # a read-only manager warns that it will not save: it is not meant to
    try:
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=not read_only, read_only=read_only)
        return ocp.CheckpointManager(directory, options=options, item_names=(STATE_ITEM, CONFIG_ITEM, META_ITEM))
    finally:
        absl.setLevel(level)


def _is_closed_loop_noise(unraisable) -> bool:
    return isinstance(unraisable.exc_value, RuntimeError) and "Event loop is closed" in str(unraisable.exc_value)


def _drop_closed_loop_noise(original):
    # The hook runs as late as interpreter exit, when this module's globals may already be None:
    # what it calls is bound here.
    def hook(unraisable, is_noise=_is_closed_loop_noise, original=original):
        if not is_noise(unraisable):
            original(unraisable)

    hook.drops_closed_loop_noise = True
    return hook


class _DropAbandonedReadErrors(logging.Filter):
    """Drops asyncio's "Future exception was never retrieved" for tensorstore reads only (its
    constants are held by the instance: it runs as late as interpreter exit)."""

    def __init__(self):
        super().__init__()
        self.prefixes = UNRETRIEVED_EXCEPTION

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        exception = record.exc_info[1] if record.exc_info else None
        return not (message.startswith(self.prefixes) and "tensorstore" in f"{exception} {message}")


_ABANDONED_READ_ERRORS = _DropAbandonedReadErrors()


def _silence_abandoned_reads() -> None:
    """From now on in this process, drop what the abandoned reads of a failed restore report
    late: ``RuntimeError: Event loop is closed`` from their threads (an unraisable exception),
    ``RuntimeWarning: coroutine ... was never awaited`` when their coroutines are collected, and
    asyncio's "Future exception was never retrieved" for their failed tensorstore reads; the last
    two can come as late as interpreter exit. Every other unraisable exception, warning and
    asyncio message still shows."""
    if not getattr(sys.unraisablehook, "drops_closed_loop_noise", False):
        sys.unraisablehook = _drop_closed_loop_noise(sys.unraisablehook)
    warnings.filterwarnings("ignore", message=UNAWAITED_COROUTINE, category=RuntimeWarning)
    asyncio_logger = logging.getLogger("asyncio")
    if _ABANDONED_READ_ERRORS not in asyncio_logger.filters:
        asyncio_logger.addFilter(_ABANDONED_READ_ERRORS)


@contextlib.contextmanager
def _quiet_failed_restore():
    """Run a restore. When orbax gives up on a damaged checkpoint, the tensorstore reads still in
    flight report to its closed asyncio loop from their threads, and their coroutines are left
    unawaited: that noise is silenced for the rest of the process (only it), and a failed restore
    waits a moment for the reads to drain, so the user sees the one-line error alone."""
    original = sys.unraisablehook
    sys.unraisablehook = _drop_closed_loop_noise(original)
    try:
        yield
    except Exception:
        _silence_abandoned_reads()
        time.sleep(FAILED_RESTORE_DRAIN_S)
        raise
    else:
        sys.unraisablehook = original


def _drop_empty(tree: Any) -> Any:
    """Zero-size arrays (which orbax cannot write) become None; the template restores them."""
    return jax.tree.map(lambda x: None if x.size == 0 else x, tree)


def _refill_empty(template: Any, restored: Any) -> Any:
    leaves = jax.tree.leaves(restored, is_leaf=lambda x: x is None)
    template_leaves, treedef = jax.tree.flatten(template)
    return jax.tree.unflatten(treedef, [t if r is None else r for t, r in zip(template_leaves, leaves)])


def save(manager: ocp.CheckpointManager, step: int, state: Any, config: Config,
         meta: Mapping[str, Any]) -> None:
    """Save asynchronously; call ``manager.wait_until_finished()`` before exiting."""
    manager.save(step, args=ocp.args.Composite(**{
        STATE_ITEM: ocp.args.StandardSave(_drop_empty(state)),
        CONFIG_ITEM: ocp.args.JsonSave(config.to_dict()),
        META_ITEM: ocp.args.JsonSave(dict(meta)),
    }), force=True)


def _require_run_dir(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory not found: {run_dir}")
    return run_dir


def _latest_step(manager: ocp.CheckpointManager, run_dir: Path) -> int:
    step = manager.latest_step()
    if step is None:
        raise CheckpointError(f"no checkpoint in {run_dir / CHECKPOINT_DIR}")
    return step


def _corrupt(run_dir: Path, step: int, err: Exception) -> CheckpointError:
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return CheckpointError(f"checkpoint {run_dir / CHECKPOINT_DIR / str(step)} is corrupt or "
                           f"unreadable ({type(err).__name__}: {reason[:200]})")


def read_config(run_dir: str | Path) -> tuple[Config, dict]:
    """The config and meta saved with the latest checkpoint of ``run_dir``."""
    run_dir = _require_run_dir(run_dir)
    manager = open_manager(run_dir, read_only=True)
    step = _latest_step(manager, run_dir)
    try:
        items = manager.restore(step, args=ocp.args.Composite(**{
            CONFIG_ITEM: ocp.args.JsonRestore(), META_ITEM: ocp.args.JsonRestore()}))
    except Exception as err:  # orbax raises many types for damaged files
        raise _corrupt(run_dir, step, err) from None
    finally:
        manager.close()
    try:
        config = config_from_dict(items[CONFIG_ITEM], f"{run_dir / CHECKPOINT_DIR / str(step)}")
    except ConfigError as err:
        raise CheckpointError(f"saved config is not valid any more: {err}") from None
    return config, dict(items[META_ITEM])


def restore_state(manager: ocp.CheckpointManager, run_dir: Path, template: Any,
                  fallback: bool = False) -> tuple[Any, dict]:
    """Restore the latest state into the structure (shapes, dtypes) of ``template``.

    With ``fallback``, a checkpoint that does not restore is skipped for the newest older one
    that does (saying which was taken); without it, or when none restores, one line names it."""
    _latest_step(manager, run_dir)
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, _drop_empty(template))
    steps = sorted(manager.all_steps(), reverse=True)
    failures = []
    for step in steps if fallback else steps[:1]:
        try:
            with _quiet_failed_restore():
                items = manager.restore(step, args=ocp.args.Composite(**{
                    STATE_ITEM: ocp.args.StandardRestore(abstract), META_ITEM: ocp.args.JsonRestore()}))
        except Exception as err:  # orbax raises many types for damaged files
            failures.append(_corrupt(run_dir, step, err))
            continue
        if failures:
            _set_aside(manager, run_dir, [s for s in steps if s > step])
            print(f"{failures[0]}; resuming from checkpoint {step}, the newest that restores (the newer "
                  f"ones are kept in {run_dir / CORRUPT_DIR})", file=sys.stderr)
        return _refill_empty(template, items[STATE_ITEM]), dict(items[META_ITEM])
    if len(failures) > 1:
        raise CheckpointError(f"{failures[0]}, and none of the {len(failures) - 1} older checkpoints "
                              "restores either")
    raise failures[0]


def _set_aside(manager: ocp.CheckpointManager, run_dir: Path, steps: list[int]) -> None:
    """Move checkpoints that do not restore out of the manager's way (nothing is deleted)."""
    target = run_dir / CORRUPT_DIR
    target.mkdir(exist_ok=True)
    for step in steps:
        source = run_dir / CHECKPOINT_DIR / str(step)
        if source.exists():
            source.rename(target / f"{step}-{time.strftime('%Y%m%d-%H%M%S')}")
    manager.reload()


def _flatten(raw: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def check_compatible(saved: Config, requested: Config) -> None:
    """Raise if ``requested`` differs from ``saved`` in anything but ``RESUMABLE_KEYS``."""
    old, new = _flatten(saved.to_dict()), _flatten(requested.to_dict())
    changed = sorted(k for k in old.keys() | new.keys()
                     if k not in RESUMABLE_KEYS and old.get(k) != new.get(k))
    if changed:
        details = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in changed[:5])
        more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        raise CheckpointError(f"cannot resume with a different config ({details}{more}); only "
                              f"{', '.join(sorted(RESUMABLE_KEYS))} may change")


def _spaces(env) -> tuple:
    """What a policy depends on: the environment, its observation shape and its action space."""
    action = env.action_space()
    return (env.name, tuple(env.observation_space().shape),
            getattr(action, "n", None), tuple(getattr(action, "shape", ()) or ()))


def check_same_spaces(run_dir: Path, trained_env, wanted_env) -> None:
    """One line unless both environments have the same kind, observation shape and action space."""
    trained, wanted = _spaces(trained_env), _spaces(wanted_env)
    if trained != wanted:
        raise CheckpointError(
            f"{run_dir} was trained on env {trained[0]} with observations of shape {trained[1]} and "
            f"actions {trained[2] or trained[3]}; the requested config has env {wanted[0]}, "
            f"observations {wanted[1]}, actions {wanted[2] or wanted[3]}")


def restore_population(run_dir: str | Path):
    """(population, stacked state) of a run's latest checkpoint."""
    run_dir = _require_run_dir(run_dir)
    config, _ = read_config(run_dir)
    population = build_population(config)
    manager = open_manager(run_dir, read_only=True)
    try:
        state, _ = restore_state(manager, run_dir, population.init())
    finally:
        manager.close()
    return population, state


def load_policy(run_dir: str | Path, for_env: tuple | None = None, member: int = 0) -> tuple[Config, Policy]:
    """The deterministic policy (mean / argmax action, normaliser applied) of member ``member``
    of a run's latest checkpoint. With ``for_env`` = (env, env_params), raise a one-line error
    unless the run was trained on an environment of the same kind, observation shape and
    action space."""
    population, state = restore_population(run_dir)
    if for_env is not None:
        check_same_spaces(Path(run_dir), population.env, for_env[0])
    check_member(run_dir, member, population.size)
    return population.members[member].config, population.policy(state, member)


def check_member(run_dir, member: int, size: int) -> None:
    if not 0 <= member < size:
        raise CheckpointError(f"#member={member} is out of range: {run_dir} holds {size} member"
                              f"{'s' if size > 1 else ''} (0..{size - 1})")
