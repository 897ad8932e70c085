"""Suite tables, robustness ranking, the per-episode CSV and the self-contained HTML."""

import csv
import math

import numpy as np
import pytest

from jaxmm.reporting import format_suite, most_robust, robustness, suite_rows, write_episodes_csv, write_report

EPISODES = 5


def result(sharpe, pnl=0.1, **extra):
    rng = np.random.default_rng(int(1000 * (sharpe if math.isfinite(sharpe) else 0)) % 97)
    per = {"pnl": rng.normal(pnl, 0.1, EPISODES), "reward": rng.normal(pnl, 0.1, EPISODES),
           "fill_price_edge": np.full(EPISODES, 0.2), "slippage": np.zeros(EPISODES), "fees": np.zeros(EPISODES),
           "inventory_revaluation": np.full(EPISODES, -0.1), "adverse_selection_part": np.full(EPISODES, -0.04),
           "max_drawdown": np.full(EPISODES, 0.05)}
    metrics = {"pnl_mean": pnl, "pnl_std": 0.1, "sharpe": sharpe, "sharpe_ci_low": sharpe - 0.1,
               "sharpe_ci_high": sharpe + 0.1, "adverse_selection_horizon": 10, "markout_10": -0.01,
               "quoting_ratio": 1.0, "slippage_decision": float("nan"),
               "pnl_decomposition": {"spread_capture": 0.2, "slippage": 0.0, "fees": 0.0,
                                     "adverse_selection": -0.04, "other_revaluation": -0.06}, **extra}
    distributions = {"markout_curve": {"horizon": [0, 1, 10], "per_unit": [0.0, -0.005, -0.01]},
                     "inventory_histogram": {"inventory": [-1, 0, 1], "share": [0.25, 0.5, 0.25]},
                     "fill_rate": {"distance": [0.0, 0.5], "fill_rate": [0.3, 0.1]}}
    paths = {"inventory": np.zeros((2, 4)), "pnl": np.zeros((2, 4))}
    return {"metrics": metrics, "per_episode": per, "distributions": distributions, "paths": paths}


RESULTS = {  # policy -> scenario -> result
    "steady": {"calm": result(1.0), "rough": result(0.8), "late": result(0.9)},
    "fragile": {"calm": result(3.0), "rough": result(-0.5), "late": result(2.0)},
    "silent": {"calm": result(2.0), "rough": result(float("nan")), "late": result(2.5)},
}


def test_robustness_takes_the_worst_scenario_and_undefined_counts_as_worst():
    table = robustness(RESULTS, "sharpe")
    assert table["steady"]["worst"] == 0.8 and table["steady"]["worst_scenario"] == "rough"
    assert table["fragile"]["worst"] == -0.5 and table["fragile"]["mean"] == pytest.approx(1.5)
    assert math.isnan(table["silent"]["worst"]) and table["silent"]["worst_scenario"] == "rough"
    assert most_robust(table) == "steady"


def test_suite_table_has_a_row_per_scenario_and_policy_and_drops_empty_columns():
    header, rows = suite_rows(RESULTS)
    assert len(rows) == 3 * 3 and rows[0][:2] == ["calm", "steady"]
    assert "markout@10" in header and "slip decision" not in header  # no policy sent a market order
    text = format_suite(RESULTS, "sharpe")
    assert text.rstrip().endswith("most robust (best worst-case sharpe): steady")


def test_episode_csv_has_every_episode_and_the_decomposition(tmp_path):
    path = write_episodes_csv(tmp_path / "episodes.csv", RESULTS)
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * 3 * EPISODES
    first = rows[0]
    assert (first["policy"], first["scenario"], first["episode"]) == ("steady", "calm", "0")
    assert float(first["adverse_selection"]) + float(first["other_revaluation"]) == pytest.approx(
        float(first["inventory_revaluation"]))
    assert float(first["pnl"]) == pytest.approx(RESULTS["steady"]["calm"]["per_episode"]["pnl"][0], rel=1e-8)


def test_report_is_one_self_contained_file_with_every_plot(tmp_path):
    written = write_report(tmp_path, "suite <test>", {"suite": "x.yaml"}, RESULTS, "sharpe", {"seed": 3})
    html = written["html"].read_text()
    pngs = [p for p in written.values() if p.suffix == ".png"]
    assert len(pngs) == 8 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert html.count("data:image/png;base64,") == len(pngs)
    assert "suite &lt;test&gt;" in html and "<b>steady</b>" in html
    assert written["json"].exists() and written["csv"].exists()
