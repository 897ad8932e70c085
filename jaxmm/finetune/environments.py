"""The environment of a data window, and what a fine-tune may not change.

``calibrated``: the parent's environment with the parameters the calibration fits
(:mod:`jaxmm.data.calibration`) replaced by their values on the window. Only fitted
*float* parameters are taken: integers set shapes and slot counts of the compiled program,
so they stay the parent's (a fitted integer that differs is recorded as a note), and every
window of a walk-forward loop builds an environment with the same static settings: one
compiled program for all of them.

``replay``: the recorded window itself (``env.name: replay``), with the parent's agent
settings (quotes, sizes, latency, fees, observation), so it has the order book's
observation layout and action space.

What may differ from the parent: environment parameters, reward weights, the learner's float
hyperparameters, the budget. What may not: the observation layout, the action space, the
network (checked here, each difference one line naming it).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from jaxmm.config.section import FieldError
from jaxmm.errors import ConfigError, DataError
from jaxmm.finetune.windows import DataSpan, Window

CALIBRATED, REPLAY, BOTH = "calibrated", "replay", "both"
ENV_KINDS = (CALIBRATED, REPLAY, BOTH)
MODEL, LOB = "model", "lob"
# Config keys of the learners that set the network: they may not differ from the parent's.
NETWORK_KEYS = ("hidden_sizes", "activation", "dueling", "normalize_obs")
# Parameters a closed-form policy's quote model reads (order book / model environment).
QUOTE_MODEL_FIELDS = ("qm_volatility", "qm_arrival_rate", "qm_fill_decay", "volatility", "arrival_rate",
                      "fill_decay", "drift")
ALLOWED = ("a fine-tune may change environment parameters, reward weights, the learner's float "
           "hyperparameters and the budget, not the observation layout, the action space or the network")


@dataclasses.dataclass
class WindowEnv:
    """The env section of a window and how it was obtained."""

    section: object
    kind: str
    table: list[dict] = dataclasses.field(default_factory=list)  # calibration: fitted values
    notes: list[str] = dataclasses.field(default_factory=list)


def _float_fields(section) -> set[str]:
    from jaxmm.sweeps.members import _is_float_field

    return {f.name for f in dataclasses.fields(section) if _is_float_field(section, f.name)}


def _lob_base(parent_env, tick: float):
    """The order-book section a calibration starts from: the parent's, or the replay's agent on the default book."""
    if parent_env.name == "replay":
        return parent_env.lob_view(tick_size=tick)
    return parent_env


def calibrated_section(parent_env, span: DataSpan, window: Window, step_seconds: float, seed: int = 0) -> WindowEnv:
    """The parent's env section with the float parameters fitted on ``window``."""
    from jaxmm.data.calibrate_cli import DRIFT_SIGNIFICANCE, load_stream
    from jaxmm.data.calibration import DRIFT_NOTE, calibrate_lob, calibrate_model
    from jaxmm.data.market_features import market_features

    stream, _ = load_stream(span.data, span.trades, window=window.spec, step_seconds=step_seconds)
    features = market_features(stream)
    base = parent_env if parent_env.name == MODEL else _lob_base(parent_env, features.tick)
    notes = []
    try:
        if base.name == MODEL:
            fitted, table, _ = calibrate_model(features, base)
            drift = next(row for row in table if row["parameter"] == "drift")
            if drift["standard_error"] and abs(drift["value"]) < DRIFT_SIGNIFICANCE * drift["standard_error"]:
                fitted = dataclasses.replace(fitted, drift=0.0)
                notes.append(DRIFT_NOTE)
        else:
            fitted, table, _ = calibrate_lob(features, base, seed=seed)
    except ValueError as err:
        raise DataError(f"{span.data}: cannot calibrate on window {window.spec}: {err}") from None
    names = {row["parameter"] for row in table}
    floats = names & _float_fields(base)
    section = dataclasses.replace(base, **{name: getattr(fitted, name) for name in sorted(floats)})
    for name in sorted(names - floats):
        if hasattr(base, name) and getattr(fitted, name) != getattr(base, name):
            notes.append(f"env.{name}: fitted {getattr(fitted, name)!r}, kept the parent's "
                         f"{getattr(base, name)!r} (it sets a shape of the compiled program)")
    try:
        section.check()
    except FieldError as err:
        raise DataError(f"{span.data}: window {window.spec}: the calibrated env.{err.key} {err.message}") from None
    return WindowEnv(section, CALIBRATED, table, notes)


def replay_section(parent_env, span: DataSpan, window: Window, step_seconds: float) -> WindowEnv:
    """The recorded window with the parent's agent settings (a model-environment parent has no
    replay: its observations and actions are not the order book's)."""
    from jaxmm.envs.replay.config import AGENT_FIELDS, ReplayEnvConfig

    if parent_env.name == MODEL:
        raise ConfigError(f"the observation layout differs: the parent was trained on env model, the replay "
                          f"environment has the order book's observation layout and action space; {ALLOWED}")
    # No quote-model fit on the replayed window: the closed-form baselines read the training window's.
    recording = dict(data=span.data, trades=span.trades, window=window.spec, step_seconds=step_seconds,
                     calibrate_quote_model=False)
    if parent_env.name == "replay":
        return WindowEnv(dataclasses.replace(parent_env, **recording), REPLAY)
    agent = {name: getattr(parent_env, name) for name in AGENT_FIELDS}
    try:
        return WindowEnv(ReplayEnvConfig(**recording, **agent), REPLAY)
    except FieldError as err:
        raise ConfigError(f"replay of window {window.spec}: env.{err.key}: {err.message}") from None


def window_section(kind: str, parent_env, span: DataSpan, window: Window, step_seconds: float,
                   seed: int = 0) -> WindowEnv:
    if kind == CALIBRATED:
        return calibrated_section(parent_env, span, window, step_seconds, seed)
    if kind == REPLAY:
        return replay_section(parent_env, span, window, step_seconds)
    raise ConfigError(f"environment kind must be one of {', '.join(ENV_KINDS[:2])}, got {kind!r}")


def keep_action_bounds(built: WindowEnv, parent_env) -> WindowEnv:
    """A section whose quote bound follows the fitted parameters (the model's ``max_depth: null``, a
    multiple of 1/k) gets the parent's bound instead: the bound is part of the action space."""
    if getattr(built.section, "max_depth", 0.0) is not None or hasattr(parent_env.action_space(), "n"):
        return built
    bound = float(np.max(np.asarray(parent_env.action_space().high)))
    note = f"env.max_depth: {bound:.6g}, the parent's quote bound (it sets the action space)"
    return dataclasses.replace(built, section=dataclasses.replace(built.section, max_depth=bound),
                               notes=built.notes + [note])


def eval_kind(setting: str, parent_env) -> str:
    """Where held-out windows are evaluated: ``auto`` is the replay for the order book's layout."""
    if setting != "auto":
        return setting
    return CALIBRATED if parent_env.name == MODEL else REPLAY


# ------------------------------------------------------------------------------ what may not differ
def _action_layout(env) -> str:
    space = env.action_space()
    if hasattr(space, "n"):
        return f"{int(space.n)} discrete actions"
    low, high = (np.asarray(getattr(space, end), np.float64).round(12).tolist() for end in ("low", "high"))
    return f"continuous actions of shape {tuple(space.shape)} in [{low}, {high}]"


def check_layout(label: str, parent_env, env) -> None:
    """One line naming the first difference in observation layout or action space."""
    parent_obs, obs = tuple(parent_env.observation_space().shape), tuple(env.observation_space().shape)
    if parent_env.name != env.name or parent_obs != obs:
        raise ConfigError(f"{label}: the observation layout differs: the parent was trained on env "
                          f"{parent_env.name} with observations of shape {parent_obs}, the window's environment "
                          f"is {env.name} with {obs}; {ALLOWED}")
    parent_action, action = _action_layout(parent_env), _action_layout(env)
    if parent_action != action:
        raise ConfigError(f"{label}: the action space differs: the parent has {parent_action}, the window's "
                          f"environment {action}; {ALLOWED}")


def check_learner(label: str, parent_config, config) -> None:
    """The learner and its network keys must be the parent's."""
    if parent_config.train.algo != config.train.algo:
        raise ConfigError(f"{label}: train.algo differs: the parent is {parent_config.train.algo!r}, the "
                          f"fine-tune {config.train.algo!r}; {ALLOWED}")
    parent, mine = parent_config.learner(), config.learner()
    for key in NETWORK_KEYS:
        if hasattr(parent, key) and getattr(parent, key) != getattr(mine, key):
            raise ConfigError(f"{label}: the network differs: {config.train.algo}.{key} is "
                              f"{_plain(getattr(parent, key))!r} in the parent, {_plain(getattr(mine, key))!r} "
                              f"in the fine-tune; {ALLOWED}")


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def quote_model_fields(params, fitted) -> dict:
    """The quote-model fields of ``fitted`` that ``params`` has too (to replace them with)."""
    names = [n for n in QUOTE_MODEL_FIELDS if hasattr(params, n) and hasattr(fitted, n)]
    return {n: getattr(fitted, n) for n in names}
