"""Plots of a scenario-suite evaluation (PNG): one figure per question, subplots per scenario.

Every function takes ``runs``: ``{policy label: {scenario name: result}}`` with results as
returned by ``jaxmm.evaluate.evaluate_policy``, writes one PNG and returns its path.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import numpy as np

from jaxmm.evaluation.summary import REVALUATION_PARTS

Runs = Mapping[str, Mapping[str, dict]]
HISTOGRAM_BINS = 50
SUBPLOT_COLUMNS = 4
PANEL_SIZE = (3.6, 2.8)  # inches per subplot
DPI = 100
BAR_PARTS = ("spread_capture", "slippage", "fees", *REVALUATION_PARTS)
BASE_WIDTH, BAR_WIDTH, MAX_WIDTH = 3.0, 0.22, 16.0  # inches: grouped-bar figure width per bar, capped


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _grid(count: int, sharey: bool = False):
    plt = _pyplot()
    cols = min(SUBPLOT_COLUMNS, count)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(PANEL_SIZE[0] * cols, PANEL_SIZE[1] * rows),
                             squeeze=False, sharey=sharey)
    flat = axes.ravel()
    for ax in flat[count:]:
        ax.axis("off")
    return plt, fig, flat


def _save(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _scenarios(runs: Runs) -> list[str]:
    return list(next(iter(runs.values())))


def pnl_distributions(runs: Runs, path: Path) -> Path:
    scenarios = _scenarios(runs)
    plt, fig, axes = _grid(len(scenarios))
    for ax, scenario in zip(axes, scenarios):
        values = np.concatenate([r[scenario]["per_episode"]["pnl"] for r in runs.values()])
        bins = np.histogram_bin_edges(values[np.isfinite(values)], bins=HISTOGRAM_BINS)
        for label, results in runs.items():
            ax.hist(results[scenario]["per_episode"]["pnl"], bins=bins, alpha=0.5, density=True, label=label)
        ax.set(title=scenario, xlabel="episode PnL")
    axes[0].legend(fontsize="small")
    return _save(plt, fig, path)


def inventory_paths(runs: Runs, scenario: str, path: Path) -> Path:
    plt, fig, axes = _grid(len(runs), sharey=True)
    for ax, (label, results) in zip(axes, runs.items()):
        paths = results[scenario].get("paths", {}).get("inventory")
        if paths is not None and len(paths):
            ax.plot(np.arange(1, paths.shape[1] + 1), paths.T, lw=0.7, alpha=0.7)
        ax.set(title=f"{label} ({scenario})", xlabel="step", ylabel="inventory")
    return _save(plt, fig, path)


def _per_scenario(runs: Runs, path: Path, draw, setup=None, **axes_settings) -> Path:
    """One panel per scenario with every policy's ``draw(ax, label, result)`` on it; the panel
    prepared by ``setup(ax)``, titled by the scenario and set with ``axes_settings`` (``ax.set``)."""
    scenarios = _scenarios(runs)
    plt, fig, axes = _grid(len(scenarios))
    for ax, scenario in zip(axes, scenarios):
        if setup is not None:
            setup(ax)
        for label, results in runs.items():
            draw(ax, label, results[scenario])
        ax.set(title=scenario, **axes_settings)
    axes[0].legend(fontsize="small")
    return _save(plt, fig, path)


def inventory_histograms(runs: Runs, path: Path) -> Path:
    def draw(ax, label, result):
        hist = result["distributions"].get("inventory_histogram")
        if hist:
            ax.step(hist["inventory"], hist["share"], where="mid", label=label)

    return _per_scenario(runs, path, draw, xlabel="inventory", ylabel="share of time")


def markout_curves(runs: Runs, path: Path, unit: str = "price units") -> Path:
    def draw(ax, label, result):
        curve = result["distributions"].get("markout_curve")
        if curve:
            ax.plot(curve["horizon"], curve["per_unit"], "o-", ms=3, label=label)

    def setup(ax):
        ax.axhline(0.0, color="grey", lw=0.5)
        ax.set_xscale("symlog", linthresh=1)

    return _per_scenario(runs, path, draw, setup, xlabel="steps after the fill", xlim=(0, None),
                         ylabel=f"mid move per filled unit ({unit})")


def pnl_decomposition(runs: Runs, path: Path) -> Path:
    scenarios = _scenarios(runs)
    plt, fig, axes = _grid(len(scenarios))
    labels = list(runs)
    x = np.arange(len(labels))
    for ax, scenario in zip(axes, scenarios):
        positive, negative = np.zeros(len(labels)), np.zeros(len(labels))
        for part in BAR_PARTS:
            values = np.asarray([runs[l][scenario]["metrics"].get("pnl_decomposition", {}).get(part, 0.0)
                                 for l in labels], float)
            bottom = np.where(values >= 0, positive, negative)
            ax.bar(x, values, bottom=bottom, label=part.replace("_", " "))
            positive, negative = positive + np.maximum(values, 0), negative + np.minimum(values, 0)
        pnl = [runs[l][scenario]["metrics"]["pnl_mean"] for l in labels]
        ax.plot(x, pnl, "k_", ms=14, mew=2, label="PnL")
        ax.axhline(0.0, color="grey", lw=0.5)
        ax.set_xticks(x, labels, rotation=30, ha="right", fontsize="small")
        ax.set(title=scenario, ylabel="mean per episode")
    axes[0].legend(fontsize="x-small")
    return _save(plt, fig, path)


def scenario_comparison(runs: Runs, metric: str, path: Path) -> Path:
    """Grouped bars: ``metric`` by scenario, one bar per policy (Sharpe with its interval)."""
    plt = _pyplot()
    scenarios = _scenarios(runs)
    width = min(MAX_WIDTH, BASE_WIDTH + BAR_WIDTH * len(scenarios) * max(1, len(runs)))
    fig, ax = plt.subplots(figsize=(width, 3.8))
    width = 0.8 / max(len(runs), 1)
    x = np.arange(len(scenarios))
    for i, (label, results) in enumerate(runs.items()):
        values = np.asarray([results[s]["metrics"].get(metric, np.nan) for s in scenarios], float)
        errors = None
        if metric == "sharpe":
            low = np.asarray([results[s]["metrics"].get("sharpe_ci_low", np.nan) for s in scenarios], float)
            high = np.asarray([results[s]["metrics"].get("sharpe_ci_high", np.nan) for s in scenarios], float)
            if np.all(np.isfinite(low)) and np.all(np.isfinite(high)):
                errors = np.vstack([values - low, high - values])
        ax.bar(x + (i - (len(runs) - 1) / 2) * width, values, width, yerr=errors, capsize=2, label=label)
    ax.axhline(0.0, color="grey", lw=0.5)
    ax.set_xticks(x, scenarios, rotation=20, ha="right")
    ax.set(ylabel=metric.replace("_", " "), title=f"{metric.replace('_', ' ')} by scenario")
    ax.legend(fontsize="small", ncol=2)
    return _save(plt, fig, path)


def worst_case(robustness: Mapping[str, dict], metric: str, path: Path) -> Path:
    plt = _pyplot()
    labels = list(robustness)
    worst = [robustness[l]["worst"] for l in labels]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(labels)), 3.5))
    bars = ax.bar(np.arange(len(labels)), worst, color="tab:red")
    for bar, label in zip(bars, labels):
        ax.annotate(robustness[label]["worst_scenario"] or "", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize="x-small")
    ax.axhline(0.0, color="grey", lw=0.5)
    ax.set_xticks(np.arange(len(labels)), labels, rotation=30, ha="right")
    ax.set(ylabel=f"worst {metric.replace('_', ' ')}", title="worst case across scenarios")
    return _save(plt, fig, path)


def fill_rates(runs: Runs, path: Path) -> Path:
    def draw(ax, label, result):
        rate = result["distributions"].get("fill_rate")
        if rate and rate["distance"]:
            ax.plot(rate["distance"], rate["fill_rate"], "o-", ms=3, label=label)

    return _per_scenario(runs, path, draw, xlabel="quote distance from the mid", ylabel="fills per quoted step")
