"""Pareto fronts of profit against risk: non-dominated points, hypervolume, frontier gaps.

Objectives: PnL mean (higher is better) against a risk measure (lower is better: PnL
standard deviation or mean |inventory|). Points are minimised as (-PnL mean, risk), the
convention of moocore, whose exact hypervolume and non-dominance tests are used.
"""

from __future__ import annotations

import moocore
import numpy as np

REFERENCE_MARGIN = 0.1  # the reference point lies this share of each objective's range past its worst value


def _minimised(pnl_mean, risk) -> np.ndarray:
    return np.column_stack([-np.asarray(pnl_mean, float), np.asarray(risk, float)])


def non_dominated(pnl_mean, risk) -> np.ndarray:
    """Boolean mask of the points no other point beats on both objectives (NaN points: False)."""
    points = _minimised(pnl_mean, risk)
    finite = np.all(np.isfinite(points), axis=1)
    mask = np.zeros(len(points), bool)
    if finite.any():
        mask[finite] = moocore.is_nondominated(points[finite])
    return mask


def reference_point(*point_sets: tuple) -> tuple[float, float]:
    """(PnL mean, risk) just worse than every point of every set: the worst PnL mean and the
    largest risk, each moved ``REFERENCE_MARGIN`` of the joint range further out."""
    pnl = np.concatenate([np.asarray(p, float) for p, _ in point_sets])
    risk = np.concatenate([np.asarray(r, float) for _, r in point_sets])
    pnl, risk = pnl[np.isfinite(pnl)], risk[np.isfinite(risk)]
    pnl_span = max(pnl.max() - pnl.min(), abs(pnl.max()) * REFERENCE_MARGIN, np.finfo(float).tiny)
    risk_span = max(risk.max() - risk.min(), abs(risk.max()) * REFERENCE_MARGIN, np.finfo(float).tiny)
    return float(pnl.min() - REFERENCE_MARGIN * pnl_span), float(risk.max() + REFERENCE_MARGIN * risk_span)


def hypervolume(pnl_mean, risk, reference: tuple[float, float]) -> float:
    """Area dominated by the points and bounded by ``reference`` = (PnL mean, risk)."""
    points = _minimised(pnl_mean, risk)
    points = points[np.all(np.isfinite(points), axis=1)]
    ref = np.asarray([-reference[0], reference[1]], float)
    inside = np.all(points < ref, axis=1)
    if not inside.any():
        return 0.0
    return float(moocore.hypervolume(points[inside], ref=ref))


def frontier_at(front_risk, front_pnl, risk) -> np.ndarray:
    """The frontier's best PnL mean at each ``risk``: the upper envelope of its non-dominated
    points, linearly interpolated (NaN outside the frontier's range of risk)."""
    mask = non_dominated(front_pnl, front_risk)
    order = np.argsort(np.asarray(front_risk, float)[mask])
    xs = np.asarray(front_risk, float)[mask][order]
    ys = np.asarray(front_pnl, float)[mask][order]
    risk = np.asarray(risk, float)
    return np.interp(risk, xs, ys, left=np.nan, right=np.nan)
