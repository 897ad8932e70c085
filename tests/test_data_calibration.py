"""Calibration round trips: simulate with known parameters, write LOBSTER and L2/trades files,
read them back, calibrate; the parameters come back within tolerances that shrink as the window grows."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math

import pytest

from jaxmm.config import load_config
from jaxmm.data.calibrate_cli import load_stream, parse_window, register
from jaxmm.data.calibration import calibrate_lob, calibrate_model
from jaxmm.data.exchange import write_l2_updates, write_trades
from jaxmm.data.export import export_stream
from jaxmm.data.lobster import write_lobster_messages
from jaxmm.data.market_features import market_features
from jaxmm.data.model_market import simulate_model_events
from jaxmm.data.recorder import simulate_events
from jaxmm.data.sample_data import sample_path
from jaxmm.envs import make_env
from jaxmm.errors import ConfigError

STEPS = 8_000
WINDOWS = (1_000, STEPS)  # steps; both start after the first step, which submits the initial book
REFERENCE_STEPS = 1_000
# Tolerances at REFERENCE_STEPS steps (about four standard errors there), shrinking as
# sqrt(REFERENCE_STEPS / steps): relative for rates and scales, absolute for the others.
LOB_TRUTH = dict(limit_rate=1.5, distance_exponent=0.6, size_mean=3.0, cancel_rate=0.004, market_rate=0.4,
                 hawkes_jump=0.1, hawkes_decay=0.6)
LOB_TOLERANCE = dict(limit_rate=("relative", 0.075), distance_exponent=("absolute", 0.09),
                     size_mean=("absolute", 0.2), cancel_rate=("relative", 0.08), market_rate=("relative", 0.15),
                     hawkes_jump=("absolute", 0.1), hawkes_decay=("absolute", 0.35))
MODEL_TRUTH = dict(volatility=0.02, drift=0.002, arrival_rate=0.5, fill_decay=50.0)
MODEL_TOLERANCE = dict(volatility=("relative", 0.3), drift=("absolute", 4 * 0.02 / math.sqrt(REFERENCE_STEPS)),
                       arrival_rate=("relative", 0.14), fill_decay=("relative", 0.1))
INFORMED_SHARE = 0.3
INFORMED_TOLERANCE = 0.1  # absolute, on an 8,000-step window
STEP_SECONDS = 1.0


def tolerance(kind_and_value, truth: float, steps: int) -> float:
    kind, value = kind_and_value
    scale = math.sqrt(REFERENCE_STEPS / steps)
    return value * scale * (abs(truth) if kind == "relative" else 1.0)


def lob_truth_config():
    base = load_config("configs/lob.yaml").env
    return dataclasses.replace(base, informed_share=0.0, hawkes_jump=LOB_TRUTH["hawkes_jump"],
                               hawkes_decay=LOB_TRUTH["hawkes_decay"], reference_price=585.0)


def write_all(tmp, name, stream):
    tape = export_stream(stream)
    paths = {kind: tmp / f"{name}_{kind}.csv" for kind in ("messages", "l2", "trades")}
    write_lobster_messages(paths["messages"], tape.messages)
    write_l2_updates(paths["l2"], tape.l2)
    write_trades(paths["trades"], tape.trades)
    return paths


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("roundtrip")
    lob, _ = simulate_events(lob_truth_config(), STEPS, seed=21, step_seconds=STEP_SECONDS)
    model = simulate_model_events(**MODEL_TRUTH, tick=0.01, steps=STEPS, step_seconds=STEP_SECONDS, seed=22,
                                  price_origin=585.0)
    return {"lob": write_all(tmp, "lob", lob), "model": write_all(tmp, "model", model)}


def windowed_features(paths):
    """Per window (steps 1 to 1 + window): features read from the LOBSTER file and from the
    L2 + trades files. The window's book is built from the whole file before it, as
    ``load_stream(..., window=...)`` builds it."""
    lobster, _ = load_stream(paths["messages"], step_seconds=STEP_SECONDS)
    l2, _ = load_stream(paths["l2"], paths["trades"], step_seconds=STEP_SECONDS)
    full = (market_features(lobster), market_features(l2))
    return {steps: tuple(features.window(1, 1 + steps) for features in full) for steps in WINDOWS}


def values(table):
    return {row["parameter"]: (row["value"], row["standard_error"]) for row in table}


def check_round_trip(fits, truth, tolerances):
    errors = {}
    for steps in WINDOWS:
        (lobster, l2) = fits[steps]
        for name, expected in truth.items():
            assert lobster[name][0] == pytest.approx(l2[name][0], rel=1e-9), f"{name}: formats disagree"
            error = abs(lobster[name][0] - expected)
            allowed = tolerance(tolerances[name], expected, steps)
            assert error <= allowed, \
                f"{name} at {steps} steps: {lobster[name][0]:.5g} vs {expected} (tolerance {allowed:.3g})"
            errors[name, steps] = lobster[name][1]
    for name in truth:  # what the report says of its own precision shrinks with the window too
        assert errors[name, WINDOWS[1]] < errors[name, WINDOWS[0]], name


def test_order_book_parameters_come_back_from_lobster_and_l2_files(files):
    base = load_config("configs/ppo_lob.yaml").env
    fits = {steps: tuple(values(calibrate_lob(features, base, informed=False, with_hawkes=True)[1])
                         for features in pair) for steps, pair in windowed_features(files["lob"]).items()}
    check_round_trip(fits, LOB_TRUTH, LOB_TOLERANCE)
    for name in LOB_TOLERANCE:  # the stated tolerances shrink as the window grows
        assert tolerance(LOB_TOLERANCE[name], 1.0, WINDOWS[1]) < tolerance(LOB_TOLERANCE[name], 1.0, WINDOWS[0])


def test_model_parameters_come_back_from_lobster_and_l2_files(files):
    base = load_config("configs/ppo_cj_small.yaml").env
    fits = {steps: tuple(values(calibrate_model(features, base)[1]) for features in pair)
            for steps, pair in windowed_features(files["model"]).items()}
    check_round_trip(fits, MODEL_TRUTH, MODEL_TOLERANCE)


def test_informed_share_comes_back_from_markouts():
    cfg = dataclasses.replace(load_config("configs/lob.yaml").env, informed_share=INFORMED_SHARE)
    stream, _ = simulate_events(cfg, STEPS, seed=23, step_seconds=STEP_SECONDS)
    fitted, table, extra = calibrate_lob(market_features(stream), cfg, informed=True)
    share, error = values(table)["informed_share"]
    assert abs(share - INFORMED_SHARE) <= INFORMED_TOLERANCE, (share, error, extra["informed_fit"])
    assert error < INFORMED_TOLERANCE
    markouts = extra["informed_fit"]["fitted_markout"]
    assert markouts[-1] > markouts[0]  # more informed flow, better markouts for aggressors
    assert fitted.market_rate == pytest.approx(cfg.market_rate, rel=0.1)


def test_windows_read_seconds_after_the_first_row_or_clock_times():
    assert parse_window("60:1860", 34200.0, epoch=False) == (34260.0, 36060.0)
    assert parse_window("09:31:00:10:00:00", 34200.0, epoch=False) == (34260.0, 36000.0)
    assert parse_window(":600", 34200.0, epoch=False) == (None, 34800.0)
    day = 1_704_153_600  # 2024-01-02 00:00 UTC
    assert parse_window("14:31:", day + 52_200.5, epoch=True) == (day + 52_260.0, None)
    with pytest.raises(ConfigError, match="not after the start"):
        parse_window("100:50", 0.0, epoch=False)


def calibrate_command(argv):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["calibrate", *argv])
    args.func(args)


def test_calibrate_writes_a_config_train_runs_and_a_report(tmp_path, capsys):
    out = tmp_path / "calibrated.yaml"
    calibrate_command(["--data", str(sample_path("model", "messages")), "--env", "model", "--window", "1:",
                       "--out", str(out)])
    config = load_config(out)
    assert config.env.name == "model" and config.train.algo == "ppo"
    assert config.env.arrival_rate == pytest.approx(0.5, rel=0.05)
    make_env(config)
    report = json.loads((tmp_path / "calibrated_report" / "calibration.json").read_text())
    assert {row["parameter"] for row in report["table"]} >= set(MODEL_TRUTH)
    assert (tmp_path / "calibrated_report" / "calibration.png").stat().st_size > 0
    assert set(report["comparison"]) == {"data", "simulated"}
    assert "fill_decay" in capsys.readouterr().out


def test_calibrating_the_book_from_the_sample_gives_a_trainable_config(tmp_path):
    out = tmp_path / "lob.yaml"
    calibrate_command(["--data", str(sample_path("lob", "l2")), "--trades", str(sample_path("lob", "trades")),
                       "--env", "lob", "--window", "1:1001", "--no-informed", "--out", str(out)])
    config = load_config(out)
    assert config.env.name == "lob" and config.env.reference_price == pytest.approx(585.0, abs=0.2)
    steps = json.loads((tmp_path / "lob_report" / "calibration.json").read_text())["steps"]
    assert steps == 1000
    assert config.env.limit_rate == pytest.approx(1.5, rel=tolerance(LOB_TOLERANCE["limit_rate"], 1.0, steps))
    assert config.train.name == load_config("configs/ppo_lob.yaml").train.name
