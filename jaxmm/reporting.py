"""Evaluation output: a readable table, a JSON file and plots (PNG)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

TABLE_METRICS = (
    ("reward_mean", "reward"), ("reward_std", "reward sd"), ("pnl_mean", "PnL"), ("pnl_std", "PnL sd"),
    ("sharpe", "Sharpe"), ("final_inventory_mean", "final q"), ("final_inventory_std", "final q sd"),
    ("mean_abs_inventory", "mean |q|"), ("spread_mean", "spread"), ("fills_per_episode", "fills"),
    ("quoting_ratio", "quoting"), ("closed_form_value", "closed form"),
)
HISTOGRAM_BINS = 60


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"
    return str(value)


def format_table(metrics_by_policy: Mapping[str, Mapping[str, Any]]) -> str:
    """One row per policy, one column per headline metric."""
    columns = [(key, label) for key, label in TABLE_METRICS
               if any(key in m for m in metrics_by_policy.values())]
    header = ["policy"] + [label for _, label in columns]
    rows = [[name] + [_cell(m.get(key)) for key, _ in columns] for name, m in metrics_by_policy.items()]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None  # JSON has no NaN/inf
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_json(path: str | Path, payload: Mapping[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_safe(payload), indent=2, sort_keys=False) + "\n")
    return path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_inventory_paths(paths_by_policy: Mapping[str, Mapping[str, np.ndarray]], path: Path) -> Path:
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(paths_by_policy), figsize=(5 * len(paths_by_policy), 3.5),
                             squeeze=False, sharey=True)
    for ax, (name, paths) in zip(axes[0], paths_by_policy.items()):
        inventory = paths["inventory"]
        ax.plot(np.arange(1, inventory.shape[1] + 1), inventory.T, lw=0.8, alpha=0.7)
        ax.set_title(name)
        ax.set_xlabel("step")
    axes[0][0].set_ylabel("inventory")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_pnl_distribution(pnl_by_policy: Mapping[str, np.ndarray], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    values = np.concatenate([np.asarray(v) for v in pnl_by_policy.values()])
    bins = np.histogram_bin_edges(values[np.isfinite(values)], bins=HISTOGRAM_BINS)
    for name, pnl in pnl_by_policy.items():
        ax.hist(pnl, bins=bins, alpha=0.5, label=name, density=True)
    ax.set_xlabel("episode PnL")
    ax.set_ylabel("density")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_evaluation(out_dir: str | Path, results: Mapping[str, Mapping[str, Any]],
                     paths: Mapping[str, Mapping[str, np.ndarray]] | None = None,
                     extra: Mapping[str, Any] | None = None) -> dict[str, Path]:
    """Write ``evaluation.json`` (metrics of every policy) and the plots into ``out_dir``.

    ``results`` maps policy name to the dict returned by ``evaluate_policy``;
    ``paths`` maps policy name to ``sample_paths`` output (inventory plot).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {"json": write_json(out_dir / "evaluation.json", {
        **(extra or {}), "policies": {name: r["metrics"] for name, r in results.items()}})}
    written["pnl"] = plot_pnl_distribution({n: r["per_episode"]["pnl"] for n, r in results.items()},
                                           out_dir / "pnl_distribution.png")
    if paths:
        written["inventory"] = plot_inventory_paths(paths, out_dir / "inventory_paths.png")
    return written


# ---------------------------------------------------------------- scenario suites
# Headline columns of the per-scenario table; {markout} is filled in with a horizon.
SUITE_COLUMNS = (
    ("pnl_mean", "PnL"), ("pnl_std", "PnL sd"), ("sharpe", "Sharpe"), ("sharpe_se", "se"),
    ("mean_abs_inventory", "mean |q|"), ("inventory_skewness", "q skew"),
    ("time_at_inventory_limit", "at limit"), ("effective_spread", "eff. spread"),
    ("markout_{markout}", "markout@{markout}"), ("realised_spread_{markout}", "realised@{markout}"),
    ("slippage_decision", "slip decision"), ("slippage_arrival", "slip arrival"),
    ("max_drawdown_mean", "max DD"), ("fill_rate", "fill rate"), ("quoting_ratio", "quoting"),
    ("order_to_trade", "orders/trade"),
)
CSV_KEYS_FIRST = ("policy", "scenario", "episode")


def _columns(horizon: int) -> list[tuple[str, str]]:
    return [(k.format(markout=horizon), v.format(markout=horizon)) for k, v in SUITE_COLUMNS]


def _markout_horizon(results: Mapping[str, Mapping[str, dict]]) -> int:
    """The adverse-selection horizon when the markout curve has it, else its longest horizon."""
    result = next(iter(next(iter(results.values())).values()))
    horizons = result["distributions"].get("markout_curve", {}).get("horizon", [0])
    wanted = result["metrics"].get("adverse_selection_horizon")
    return int(wanted if wanted in horizons else horizons[-1])


def _lines(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def suite_rows(results: Mapping[str, Mapping[str, dict]]) -> tuple[list[str], list[list[str]]]:
    """(header, rows): one row per scenario and policy. ``results``: policy -> scenario -> result."""
    def defined(value) -> bool:
        return isinstance(value, (int, float)) and math.isfinite(value)

    # Columns no scenario or policy has a value for (no market orders: no slippage) are left out.
    columns = [(k, label) for k, label in _columns(_markout_horizon(results))
               if any(defined(r["metrics"].get(k)) for s in results.values() for r in s.values())]
    header = ["scenario", "policy"] + [label for _, label in columns]
    rows = []
    for scenario in next(iter(results.values())):
        for policy, by_scenario in results.items():
            metrics = by_scenario[scenario]["metrics"]
            rows.append([scenario, policy] + [_cell(metrics.get(k)) for k, _ in columns])
    return header, rows


def robustness(results: Mapping[str, Mapping[str, dict]], metric: str) -> dict[str, dict]:
    """Per policy: ``metric`` on every scenario, its worst (lowest) value and where, its mean."""
    out = {}
    for policy, by_scenario in results.items():
        values = {s: r["metrics"].get(metric) for s, r in by_scenario.items()}
        finite = {s: v for s, v in values.items() if v is not None and math.isfinite(v)}
        # A scenario where the metric is undefined (no PnL variation, nothing quoted) counts as the worst.
        undefined = [s for s in values if s not in finite]
        worst_scenario = undefined[0] if undefined else min(finite, key=finite.get)
        worst = float("nan") if undefined else finite[worst_scenario]
        out[policy] = {"values": values, "worst": worst, "worst_scenario": worst_scenario,
                       "mean": float(np.mean(list(finite.values()))) if finite else float("nan")}
    return out


def most_robust(table: Mapping[str, dict]) -> str | None:
    """The policy with the best worst case (undefined worst cases rank last)."""
    ranked = [(p, r["worst"]) for p, r in table.items() if math.isfinite(r["worst"])]
    return max(ranked, key=lambda pr: pr[1])[0] if ranked else None


def robustness_rows(table: Mapping[str, dict], metric: str) -> tuple[list[str], list[list[str]], int | None]:
    scenarios = list(next(iter(table.values()))["values"])
    header = ["policy", f"worst {metric}", "worst scenario", "mean"] + scenarios
    order = sorted(table, key=lambda p: -table[p]["worst"] if math.isfinite(table[p]["worst"]) else math.inf)
    rows = [[p, _cell(table[p]["worst"]), str(table[p]["worst_scenario"]), _cell(table[p]["mean"])]
            + [_cell(table[p]["values"][s]) for s in scenarios] for p in order]
    best = most_robust(table)
    return header, rows, (order.index(best) if best in order else None)


def format_suite(results: Mapping[str, Mapping[str, dict]], metric: str) -> str:
    header, rows = suite_rows(results)
    table = robustness(results, metric)
    r_header, r_rows, _ = robustness_rows(table, metric)
    best = most_robust(table)
    verdict = f"most robust (best worst-case {metric}): {best}" if best else "no policy has a defined worst case"
    return "\n\n".join([_lines(header, rows), _lines(r_header, r_rows), verdict])


def write_episodes_csv(path: Path, results: Mapping[str, Mapping[str, dict]]) -> Path:
    """One row per policy, scenario and episode: the per-episode values and PnL decomposition."""
    import csv

    from jaxmm.evaluation.summary import decomposition_columns

    tables = []
    for policy, by_scenario in results.items():
        for scenario, result in by_scenario.items():
            columns = {**result["per_episode"], **decomposition_columns(result["per_episode"])}
            tables.append((policy, scenario, columns))
    keys = list(dict.fromkeys(k for _, _, columns in tables for k in columns))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*CSV_KEYS_FIRST, *keys])
        for policy, scenario, columns in tables:
            n = len(columns["pnl"])
            values = [np.asarray(columns[k], np.float64) if k in columns else np.full(n, np.nan) for k in keys]
            for i in range(n):
                writer.writerow([policy, scenario, i, *(f"{v[i]:.9g}" for v in values)])
    return path


def write_report(out_dir: str | Path, title: str, intro: Mapping[str, str],
                 results: Mapping[str, Mapping[str, dict]], metric: str,
                 extra: Mapping[str, Any] | None = None) -> dict[str, Path]:
    """Write ``report.html`` (self-contained), ``evaluation.json``, ``episodes.csv`` and the PNGs.

    ``results``: policy label -> scenario name -> ``evaluate_policy``-style result."""
    from jaxmm.evaluation import html, plots

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = robustness(results, metric)
    best = most_robust(table)
    first = next(iter(next(iter(results.values()))))
    figures = {
        "comparison": (plots.scenario_comparison(results, metric, out / "scenario_comparison.png"),
                       f"{metric} of each policy by scenario"
                       + (" (bootstrap intervals)" if metric == "sharpe" else "")),
        "worst_case": (plots.worst_case(table, metric, out / "worst_case.png"),
                       f"worst {metric} across scenarios, and where"),
        "pnl": (plots.pnl_distributions(results, out / "pnl_distribution.png"), "episode PnL by scenario"),
        "decomposition": (plots.pnl_decomposition(results, out / "pnl_decomposition.png"),
                          "mean PnL decomposition: spread capture, slippage, fees, adverse selection and the "
                          "rest of the inventory revaluation (black: PnL)"),
        "markouts": (plots.markout_curves(results, out / "markouts.png"),
                     "markout of passive fills: the mid h steps after the fill against the mid at it, per "
                     "unit, signed by the fill's side (negative: adversely selected)"),
        "inventory_hist": (plots.inventory_histograms(results, out / "inventory_histogram.png"),
                           "share of time at each inventory"),
        "inventory_paths": (plots.inventory_paths(results, first, out / "inventory_paths.png"),
                            f"inventory paths ({first})"),
        "fill_rate": (plots.fill_rates(results, out / "fill_rate.png"), "fill rate by quote distance"),
    }
    header, rows = suite_rows(results)
    r_header, r_rows, r_best = robustness_rows(table, metric)
    sections = [
        ("Robustness", html.table(r_header, r_rows, highlight=r_best)
         + f"<p>Most robust (best worst-case {metric}): <b>{best}</b></p>"
         + html.image(*figures["worst_case"]) + html.image(*figures["comparison"])),
        ("Per scenario", html.table(header, rows)),
        ("PnL", html.image(*figures["pnl"]) + html.image(*figures["decomposition"])),
        ("Fills", html.image(*figures["markouts"]) + html.image(*figures["fill_rate"])),
        ("Inventory", html.image(*figures["inventory_hist"]) + html.image(*figures["inventory_paths"])),
    ]
    written = {name: path for name, (path, _) in figures.items()}
    written["html"] = out / "report.html"
    written["html"].write_text(html.page(title, sections, intro))
    payload = {**(extra or {}), "rank_by": metric, "most_robust": best, "robustness": table,
               "results": {s: {p: {**results[p][s]["metrics"], "distributions": results[p][s]["distributions"]}
                               for p in results} for s in next(iter(results.values()))}}
    written["json"] = write_json(out / "evaluation.json", payload)
    written["csv"] = write_episodes_csv(out / "episodes.csv", results)
    return written
