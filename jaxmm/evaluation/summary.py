"""The extended metric set, from the in-rollout reductions of ``jaxmm.evaluation.accumulate``.

``summarise_extended`` returns (metrics, distributions): flat JSON-able metrics (per-unit
markouts and slippage, the PnL decomposition, Sharpe standard error and bootstrap interval,
drawdown, per-step PnL volatility, inventory distribution, quoting ratio per side,
order-to-trade ratio) and the arrays behind the plots (inventory histogram, markout curve,
fill rate by quote distance). A metric whose environment reports no data for it is None;
a ratio with nothing to divide (no market orders: slippage) is NaN, written as null.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from jaxmm.evaluation import statistics as st
from jaxmm.evaluation.accumulate import MetricSpec, distance_unit

DECOMPOSITION = ("spread_capture", "slippage", "fees", "inventory_revaluation")  # sums to the PnL
REVALUATION_PARTS = ("adverse_selection", "other_revaluation")  # sum to inventory_revaluation


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.nan


def decomposition_columns(per_episode: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-episode PnL decomposition (price units) from the per-episode sums, when reported.

    The inventory revaluation is the PnL less spread capture, slippage and fees, so the four
    add up to the PnL exactly; its adverse-selection part is summed in the rollout."""
    if "adverse_selection_part" not in per_episode:
        return {}
    pnl = np.asarray(per_episode["pnl"], np.float64)
    zeros = np.zeros_like(pnl)
    spread = np.asarray(per_episode["fill_price_edge"], np.float64)
    slippage = -np.asarray(per_episode.get("slippage", zeros), np.float64)
    fees = np.asarray(per_episode.get("fees", zeros), np.float64)
    revaluation = pnl - spread - slippage - fees
    adverse = np.asarray(per_episode["adverse_selection_part"], np.float64)
    return {"spread_capture": spread, "slippage": slippage, "fees": fees, "inventory_revaluation": revaluation,
            "adverse_selection": adverse, "other_revaluation": revaluation - adverse}


def summarise_extended(stats: dict, per_episode: dict, pooled: dict, episodes: int, num_steps: int,
                       spec: MetricSpec, env_params: Any, eval_config, seed: int) -> tuple[dict, dict]:
    def mean(key, default=None):
        return float(stats[key][0]) if key in stats else default

    metrics: dict[str, Any] = {}
    distributions: dict[str, Any] = {}
    pnl = per_episode["pnl"]

    sharpe = st.sharpe_ratio(pnl, num_steps)
    low, high = st.bootstrap_sharpe_interval(pnl, eval_config.bootstrap_samples, eval_config.confidence, seed,
                                             num_steps)
    metrics.update(sharpe_se=st.sharpe_standard_error(sharpe, episodes), sharpe_ci_low=low, sharpe_ci_high=high,
                   sharpe_ci_confidence=eval_config.confidence)
    drawdown = per_episode["max_drawdown"]
    metrics.update(max_drawdown_mean=float(drawdown.mean()), max_drawdown_worst=float(drawdown.max()))
    total_steps = episodes * num_steps
    step_mean = mean("pnl") / num_steps
    step_var = (float(pooled["pooled_pnl_step_sq"]) - total_steps * step_mean ** 2) / max(total_steps - 1, 1)
    metrics["pnl_step_std"] = math.sqrt(max(step_var, 0.0))

    metrics.update(_inventory(pooled["inventory_hist"], spec, env_params, distributions))
    metrics["quoting_ratio_bid"] = mean("bid_quoted") / num_steps
    metrics["quoting_ratio_ask"] = mean("ask_quoted") / num_steps
    fill_events = float(pooled["pooled_fill_events"]) / episodes
    messages = mean("agent_messages")
    metrics["fill_events_per_episode"] = fill_events
    metrics["order_to_trade"] = None if messages is None else _ratio(messages, fill_events)

    maker = float(pooled["pooled_maker_volume"]) / episodes if "pooled_maker_volume" in pooled else None
    taker = float(pooled["pooled_taker_volume"]) / episodes if "slippage" in stats else None
    if "pooled_markout_move" in pooled:
        edge = mean("fill_price_edge")
        moves = dict(zip(spec.horizons, np.asarray(pooled["pooled_markout_move"], np.float64) / episodes))
        metrics["effective_spread"] = _ratio(edge, maker)
        curve, realised = [0.0], [metrics["effective_spread"]]
        for h in spec.markout_horizons:
            metrics[f"markout_{h}"] = _ratio(moves[h], maker)
            metrics[f"realised_spread_{h}"] = _ratio(edge + moves[h], maker)
            curve.append(metrics[f"markout_{h}"])
            realised.append(metrics[f"realised_spread_{h}"])
        distributions["markout_curve"] = {"horizon": [0, *spec.markout_horizons], "per_unit": curve,
                                          "realised_spread": realised}
        metrics["adverse_selection_per_unit"] = _ratio(moves[spec.adverse_horizon], maker)
        metrics["adverse_selection_horizon"] = spec.adverse_horizon
        metrics["pnl_decomposition"] = {k: float(v.mean()) for k, v in decomposition_columns(per_episode).items()}
    if taker is not None:
        metrics["market_order_volume"] = taker
        metrics["slippage_arrival"] = _ratio(mean("slippage", 0.0), taker)
        metrics["slippage_decision"] = _ratio(mean("slippage_decision", mean("slippage", 0.0)), taker)
    if "quote_hist" in pooled:
        distributions["fill_rate"] = _fill_rate(pooled, env_params)
        hist = np.asarray(pooled["quote_hist"], np.float64)
        metrics["fill_rate"] = _ratio(float(hist[..., 1].sum()), float(hist.sum()))
    return metrics, distributions


def _inventory(hist: np.ndarray, spec: MetricSpec, env_params: Any, distributions: dict) -> dict:
    w = spec.inventory_half_width
    values = np.arange(-w, w + 1)
    counts = np.asarray(hist, np.float64)
    limit = int(np.asarray(env_params.max_inventory))
    mean, std, skewness = st.histogram_moments(values, counts)
    quantiles = st.histogram_quantiles(values, counts, st.INVENTORY_QUANTILES)
    at_limit = float(counts[np.abs(values) >= limit].sum() / counts.sum()) if counts.sum() > 0 else math.nan
    nonzero = np.nonzero(counts)[0]
    shown = slice(nonzero[0], nonzero[-1] + 1) if len(nonzero) else slice(0, 0)
    distributions["inventory_histogram"] = {"inventory": values[shown].tolist(),
                                            "share": (counts[shown] / max(counts.sum(), 1.0)).tolist()}
    out = {"inventory_mean": mean, "inventory_std": std, "inventory_skewness": skewness,
           "time_at_inventory_limit": at_limit, "inventory_limit": limit}
    out["inventory_quantiles"] = {f"p{round(100 * q)}": v for q, v in zip(st.INVENTORY_QUANTILES, quantiles)}
    return out


def _fill_rate(pooled: dict, env_params: Any) -> dict:
    hist = np.asarray(pooled["quote_hist"], np.float64)  # (side, bin, filled?)
    unit = float(np.asarray(distance_unit(env_params)))
    both_quoted, both_filled = hist.sum(axis=(0, 2)), hist[..., 1].sum(axis=0)
    shown = both_quoted > 0
    rate = np.where(both_quoted > 0, both_filled / np.where(both_quoted > 0, both_quoted, 1.0), np.nan)
    return {"distance": (np.arange(len(both_quoted)) * unit)[shown].tolist(),
            "quoted_steps": both_quoted[shown].tolist(), "filled_steps": both_filled[shown].tolist(),
            "fill_rate": rate[shown].tolist(), "bin_width": unit}
