"""The ``calibrate`` command: fit an environment to a window of market data, write a config and a report.

    python -m jaxmm calibrate --data PATH --env lob|model [--window START:END] --out configs/calibrated.yaml

``--data`` is a LOBSTER message file or an L2-update file (with ``--trades``); the format is
detected from the columns. The window's ends are seconds after the file's first row
(``60:1860``) or clock times on the file's own clock (``09:31:00:10:00:00``: after midnight
for LOBSTER, UTC for exchange feeds); either end may be left out. The config is the base
config (``--base``, by default ``configs/ppo_lob.yaml`` or ``configs/ppo_cj_small.yaml``) with
its ``env`` section fitted, so ``python train.py --config OUT`` trains on it as it is. The
report directory (``--report``, default ``OUT`` without its suffix plus ``_report``) gets
``calibration.json`` (the table of fitted values with standard errors, and the features) and
``calibration.png`` (the data's features next to those of the fitted environment, simulated).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import re
from pathlib import Path

import numpy as np
import yaml

from jaxmm.errors import ConfigError, DataError

ENVS = ("lob", "model")
DEFAULT_BASES = {"lob": "configs/ppo_lob.yaml", "model": "configs/ppo_cj_small.yaml"}
DEFAULT_OUT = "configs/calibrated.yaml"
REPORT_SUFFIX = "_report"
JSON_INDENT = 2
DRIFT_SIGNIFICANCE = 2.0  # standard errors; a smaller fitted drift is written as 0
REPORT_SIMULATED_STEPS = 20_000
FIGURE_SIZE = (13, 7)
FIGURE_DPI = 110
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d*)?))?$")
SECONDS_PER_HOUR, SECONDS_PER_MINUTE, SECONDS_PER_DAY = 3600, 60, 86_400


# ------------------------------------------------------------------------------ loading
def _parse_end(text: str, first: float, epoch: bool) -> float | None:
    text = text.strip()
    if not text:
        return None
    clock = _CLOCK.match(text)
    if clock:
        hours, minutes, seconds = int(clock.group(1)), int(clock.group(2)), float(clock.group(3) or 0)
        of_day = hours * SECONDS_PER_HOUR + minutes * SECONDS_PER_MINUTE + seconds
        midnight = math.floor(first / SECONDS_PER_DAY) * SECONDS_PER_DAY if epoch else 0.0
        return midnight + of_day
    try:
        return first + float(text)
    except ValueError:
        raise ConfigError(f"--window: cannot read {text!r}; use seconds after the first row (60) or a clock "
                          "time (09:31:00)") from None


def parse_window(window: str | None, first: float, epoch: bool) -> tuple[float | None, float | None]:
    """``START:END`` as absolute times on the data's clock (clock times contain ':' themselves, so the
    split is at the ':' that leaves two readable ends)."""
    if not window:
        return None, None
    candidates = [i for i, char in enumerate(window) if char == ":"]
    for index in candidates:
        try:
            start = _parse_end(window[:index], first, epoch)
            end = _parse_end(window[index + 1:], first, epoch)
        except ConfigError:
            continue
        if start is not None and end is not None and end <= start:
            raise ConfigError(f"--window {window}: the end is not after the start")
        return start, end
    raise ConfigError(f"--window {window!r}: expected START:END (seconds after the first row, or clock times)")


def load_stream(data: str | Path, trades: str | Path | None = None, *, window: str | None = None,
                step_seconds: float = 1.0, half_width: int | None = None):
    """The event stream of a data file's window (LOBSTER messages, or L2 updates with trades)."""
    from jaxmm.data import exchange, lobster
    from jaxmm.data.inspect import detect_format
    from jaxmm.data.streams import DEFAULT_HALF_WIDTH, l2_stream, lobster_stream

    half_width = half_width or DEFAULT_HALF_WIDTH
    fmt = detect_format(data)
    if fmt == lobster.FORMAT_MESSAGES:
        messages = lobster.read_lobster_messages(data, unknown_orders="skip")
        first = float(next(iter(messages))["time"].iloc[0])
        start, end = parse_window(window, first, epoch=False)
        stream, _ = lobster_stream(messages, step_seconds=step_seconds, half_width=half_width, start_time=start,
                                   end_time=end, source=data)
        return stream, fmt
    if fmt == exchange.FORMAT_L2:
        if trades is None:
            raise DataError(f"{data}: L2 updates need the market's trades too (--trades PATH)")
        updates = exchange.read_l2_updates(data)
        first = float(next(iter(updates))["local_timestamp"].iloc[0]) / exchange.MICROS_PER_SECOND
        start, end = parse_window(window, first, epoch=True)
        stream = l2_stream(updates, exchange.read_trades(trades), step_seconds=step_seconds, half_width=half_width,
                           start_time=start, end_time=end, source=data)
        return stream, fmt
    raise DataError(f"{data}: calibration reads LOBSTER message files or L2 updates, not {fmt!r} files")


# ------------------------------------------------------------------------------ calibration
def _plain(value):
    """numpy scalars as Python numbers (YAML writes those), lists element by element."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def calibrated_config(base_path: str | Path, env_section) -> dict:
    """The base config's raw mapping with its env section replaced by ``env_section``."""
    raw = yaml.safe_load(Path(base_path).read_text()) or {}
    raw["env"] = {key: _plain(value) for key, value in env_section.to_dict().items()}
    return raw


def _drop_drift_baselines(raw: dict) -> list[str]:
    """With a drift the Cartea-Jaimungal optimum does not apply: leave it out of the config's policies."""
    notes = []
    train = raw.get("train") or {}
    if "cartea_jaimungal" in (train.get("baselines") or []):
        train["baselines"] = [name for name in train["baselines"] if name != "cartea_jaimungal"]
        notes.append("train.baselines: cartea_jaimungal left out (it assumes no drift)")
    policy = raw.get("policy") or {}
    if policy.get("name") == "cartea_jaimungal":
        policy["name"] = "avellaneda_stoikov"
        notes.append("policy.name: avellaneda_stoikov instead of cartea_jaimungal (it assumes no drift)")
    return notes


def run_calibration(data, env: str, out, *, trades=None, window=None, step_seconds: float = 1.0, base=None,
                    report=None, with_hawkes: bool = False, informed: bool = True, seed: int = 0) -> dict:
    """Fit ``env`` to the data window; write the config to ``out`` and the report; returns the report."""
    from jaxmm.config import load_config
    from jaxmm.data.calibration import DRIFT_NOTE, calibrate_lob, calibrate_model
    from jaxmm.data.market_features import market_features

    if env not in ENVS:
        raise ConfigError(f"--env must be one of {', '.join(ENVS)}, got {env!r}")
    base = base or DEFAULT_BASES[env]
    base_config = load_config(base)
    if base_config.env.name != env:
        raise ConfigError(f"--base {base} is a {base_config.env.name!r} config; --env {env} needs a {env!r} one")
    stream, fmt = load_stream(data, trades, window=window, step_seconds=step_seconds)
    features = market_features(stream)
    try:
        if env == "lob":
            cfg, table, extra = calibrate_lob(features, base_config.env, informed=informed,
                                              with_hawkes=with_hawkes, seed=seed)
        else:
            cfg, table, extra = calibrate_model(features, base_config.env)
    except ValueError as err:
        raise DataError(f"{data}: cannot calibrate on this window: {err}") from None
    notes = []
    if env == "model":
        fitted = next(row for row in table if row["parameter"] == "drift")
        if fitted["standard_error"] and abs(fitted["value"]) < DRIFT_SIGNIFICANCE * fitted["standard_error"]:
            cfg = dataclasses.replace(cfg, drift=0.0)
            notes.append(DRIFT_NOTE)
    raw = calibrated_config(base, cfg)
    if env == "model" and cfg.drift != 0.0:
        notes += _drop_drift_baselines(raw)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = (f"# Calibrated by `python -m jaxmm calibrate` on {datetime.date.today().isoformat()}: env {env} fitted "
              f"to {data}" + (f" (window {window})" if window else "") + f", {features.steps} steps of "
              f"{step_seconds:g} s; other sections from {base}. Report: {_report_dir(out, report)}/\n")
    out.write_text(header + yaml.safe_dump(raw, sort_keys=False))
    load_config(out)  # what train.py will read
    result = {"data": str(data), "trades": None if trades is None else str(trades), "format": fmt,
              "window": window, "start_time": stream.start_time, "steps": features.steps,
              "step_seconds": step_seconds, "env": env, "base": str(base), "config": str(out), "notes": notes,
              "table": table, "extra": extra}
    directory = _report_dir(out, report)
    directory.mkdir(parents=True, exist_ok=True)
    simulated = simulated_features(env, cfg, min(features.steps, REPORT_SIMULATED_STEPS), step_seconds, seed)
    result["comparison"] = compare_features(features, simulated)
    (directory / "calibration.json").write_text(json.dumps(result, indent=JSON_INDENT) + "\n")
    plot_comparison(features, simulated, env, directory / "calibration.png")
    return result


def _report_dir(out: Path, report) -> Path:
    return Path(report) if report else out.with_name(out.stem + REPORT_SUFFIX)


def simulated_features(env: str, cfg, steps: int, step_seconds: float, seed: int):
    """The features of the fitted environment, simulated for ``steps`` steps."""
    from jaxmm.data.market_features import market_features

    if env == "lob":
        from jaxmm.data.recorder import simulate_events

        stream, _ = simulate_events(cfg, steps, seed=seed, step_seconds=step_seconds)
    else:
        from jaxmm.data.model_market import simulate_model_events

        tick = 10 ** math.floor(math.log10(cfg.volatility * math.sqrt(step_seconds) / 2))
        stream = simulate_model_events(volatility=cfg.volatility, drift=cfg.drift, arrival_rate=cfg.arrival_rate,
                                       fill_decay=cfg.fill_decay, tick=tick, steps=steps,
                                       step_seconds=step_seconds, seed=seed, price_origin=cfg.initial_mid)
    return market_features(stream)


# ------------------------------------------------------------------------------ comparison
def _summary(features) -> dict:
    from jaxmm.data.calibration import MARKOUT_HORIZON_STEPS, mid_path

    a = features.aggressors
    steps = max(features.steps, 1)
    mid = mid_path(features) * features.tick
    return {"limit_orders_per_step": len(features.limits["step"]) / steps,
            "cancels_per_step": len(features.cancels["step"]) / steps,
            "aggressors_per_step": len(a["step"]) / steps,
            "mean_limit_size": float(np.mean(features.limits["size"])) if len(features.limits["size"]) else None,
            "mean_aggressor_size": float(np.mean(a["size"])) if len(a["size"]) else None,
            "mean_spread_ticks": float(np.nanmean(features.spread)) if len(features.spread) else None,
            "mean_reach_ticks": float(np.mean(features.reach())) if len(a["step"]) else None,
            f"mean_markout_{MARKOUT_HORIZON_STEPS}_steps_ticks":
                float(np.mean(features.markouts(MARKOUT_HORIZON_STEPS))) if len(a["step"]) else None,
            "mid_change_std_per_step": float(np.std(np.diff(mid))) if len(mid) > 1 else None}


def compare_features(data, simulated) -> dict:
    """The same summary of the data and of the simulated fitted environment."""
    return {"data": _summary(data), "simulated": _summary(simulated)}


def _distribution(values, bins):
    counts, edges = np.histogram(values, bins=bins)
    total = counts.sum()
    return edges, counts / total if total else counts.astype(float)


def plot_comparison(data, simulated, env: str, path: Path) -> None:
    """Panels of the data's features next to the simulated fitted environment's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxmm.data.market_features import MAX_FEATURE_DISTANCE

    figure, axes = plt.subplots(2, 3, figsize=FIGURE_SIZE)
    pairs = (("data", data, "C0"), ("simulated (fitted)", simulated, "C1"))

    def histogram(axis, get, bins, title, xlabel):
        for label, features, colour in pairs:
            values = get(features)
            if len(values):
                edges, probability = _distribution(values, bins)
                axis.step(edges[:-1], probability, where="post", label=label, color=colour)
        axis.set_title(title)
        axis.set_xlabel(xlabel)
        axis.legend()

    size_bins = np.arange(1, 30)
    histogram(axes[0, 0], lambda f: f.limits["distance"], np.arange(1, 30), "limit orders by distance",
              "ticks from the opposite best")
    histogram(axes[0, 1], lambda f: f.limits["size"], size_bins, "limit-order sizes", "units")
    histogram(axes[0, 2], lambda f: f.aggressors["size"], size_bins, "market-order sizes", "units")
    for label, features, colour in pairs:
        depth = features.resting.mean(axis=(0, 1)) if len(features.resting) else np.zeros(MAX_FEATURE_DISTANCE)
        axes[1, 0].plot(np.arange(MAX_FEATURE_DISTANCE) + 0.5, depth, label=label, color=colour)
        reach = features.reach()
        reach = reach[reach > 0]
        if len(reach):
            depths = np.unique(reach)
            survival = [(reach >= d).sum() / (2 * features.duration_seconds) for d in depths]
            axes[1, 1].semilogy(depths * features.tick, survival, "o-", label=label, color=colour, markersize=3)
        mid = features.mid[~np.isnan(features.mid)] * features.tick
        if len(mid) > 1:
            horizons = np.unique(np.geomspace(1, max(len(mid) // 10, 2), 12).astype(int))
            variance = [np.var(mid[h:] - mid[:-h]) / h for h in horizons]
            axes[1, 2].semilogx(horizons, variance, "o-", label=label, color=colour, markersize=3)
    axes[1, 0].set(title="mean resting volume", xlabel="ticks from the mid", xlim=(0, 30))
    axes[1, 1].set(title="aggressors reaching each depth (fill intensity)", xlabel="depth from the mid",
                   ylabel="per second and side")
    axes[1, 2].set(title="mid variance per step by horizon", xlabel="horizon (steps)")
    for axis in axes[1]:
        axis.legend()
    figure.suptitle(f"calibration of the {env} environment: data and the fitted environment, simulated")
    figure.tight_layout()
    figure.savefig(path, dpi=FIGURE_DPI)
    plt.close(figure)


# ------------------------------------------------------------------------------ command line
def format_table(table: list[dict]) -> str:
    lines = [f"{'parameter':<20} {'value':>14} {'std error':>12}  unit"]
    for row in table:
        error = "" if row["standard_error"] is None else f"{row['standard_error']:.4g}"
        lines.append(f"{row['parameter']:<20} {row['value']:>14.6g} {error:>12}  {row['unit']}")
    return "\n".join(lines)


def run_calibrate(args: argparse.Namespace) -> None:
    """Handler of ``calibrate``."""
    result = run_calibration(args.data, args.env, args.out, trades=args.trades, window=args.window,
                             step_seconds=args.step_seconds, base=args.base, report=args.report,
                             with_hawkes=args.hawkes, informed=not args.no_informed, seed=args.seed)
    print(format_table(result["table"]))
    for note in result["notes"]:
        print(f"note: {note}")
    report = _report_dir(Path(args.out), args.report)
    print(f"wrote {args.out} and {report}/calibration.json, {report}/calibration.png")


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``calibrate`` command to an argparse ``add_subparsers()`` object (sets ``func``)."""
    parser = subparsers.add_parser(
        "calibrate", help="fit the model or order-book environment to a window of market data",
        description="Fit an environment to a window of market data; write a config train.py runs and a report.")
    parser.add_argument("--data", required=True, help="LOBSTER message file, or L2 updates (with --trades)")
    parser.add_argument("--trades", help="the trades of the same market (with L2 updates)")
    parser.add_argument("--env", required=True, choices=ENVS, help="which environment to fit")
    parser.add_argument("--window", help="START:END, seconds after the first row or clock times (default: all)")
    parser.add_argument("--step-seconds", type=float, default=1.0, help="seconds of data per environment step")
    parser.add_argument("--base", help="config whose other sections the calibrated config keeps "
                                       f"(default: {DEFAULT_BASES['lob']} / {DEFAULT_BASES['model']})")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"config to write (default: {DEFAULT_OUT})")
    parser.add_argument("--report", help="report directory (default: OUT without suffix + _report)")
    parser.add_argument("--hawkes", action="store_true", help="lob: fit self-exciting market orders")
    parser.add_argument("--no-informed", action="store_true", help="lob: skip the simulated fit of the informed share")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulations (informed share, report)")
    parser.set_defaults(func=run_calibrate)
    return parser
