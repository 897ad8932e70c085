"""Host-side statistics of evaluation results: histogram quantiles and moments, the Sharpe
ratio's standard error and bootstrap interval."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

INVENTORY_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
# Resampled values held in memory at once by the bootstrap (episodes x resamples per chunk):
# a few MiB, reused from chunk to chunk; arrays of tens of MiB, new at every evaluation, cost
# more in page faults than the resampling itself.
BOOTSTRAP_CHUNK_VALUES = 1 << 18
BOOTSTRAP_MAX_UNITS = 2_000  # episodes resampled one by one up to this many, in blocks beyond
# Episode PnLs are float32 running sums; a spread across episodes below this share of the PnL's
# size per step summed is rounding of identical outcomes (every episode filled alike), not risk.
PNL_RESOLUTION_PER_STEP = float(np.finfo(np.float32).eps)


def histogram_quantiles(values: np.ndarray, counts: np.ndarray, quantiles: Sequence[float]) -> list[float]:
    """Quantiles of a discrete distribution given as (values, counts of whole samples): the
    k-th smallest sample with k = ceil(q n), as NumPy's ``method="inverted_cdf"``."""
    counts = np.rint(np.asarray(counts, np.float64)).astype(np.int64)
    total = int(counts.sum())
    if total <= 0:
        return [math.nan] * len(quantiles)
    cumulative = np.cumsum(counts)
    out = []
    for q in quantiles:
        rank = max(1, math.ceil(total * q))
        out.append(float(values[min(int(np.searchsorted(cumulative, rank)), len(values) - 1)]))
    return out


def histogram_moments(values: np.ndarray, counts: np.ndarray) -> tuple[float, float, float]:
    """(mean, standard deviation, skewness) of a discrete distribution (population moments)."""
    counts = np.asarray(counts, np.float64)
    total = counts.sum()
    if total <= 0:
        return math.nan, math.nan, math.nan
    values = np.asarray(values, np.float64)
    mean = float((counts * values).sum() / total)
    centred = values - mean
    m2 = float((counts * centred ** 2).sum() / total)
    m3 = float((counts * centred ** 3).sum() / total)
    skewness = m3 / m2 ** 1.5 if m2 > 0 else math.nan
    return mean, math.sqrt(m2), skewness


def resolved_std(mean: float, std: float, num_steps: int) -> bool:
    """Whether ``std`` of episode PnLs (mean ``mean``, ``num_steps`` float32 additions each)
    exceeds what rounding alone leaves between episodes with the same outcome."""
    return std > PNL_RESOLUTION_PER_STEP * max(num_steps, 1) * abs(mean)


def sharpe(mean: float, std: float, num_steps: int) -> float:
    """mean / std of episode PnL; NaN (undefined) when the spread is 0 or only rounding, which
    would otherwise read as a Sharpe ratio of millions for episodes that all filled alike."""
    return mean / std if std > 0 and resolved_std(mean, std, num_steps) else math.nan


def sharpe_ratio(x: np.ndarray, num_steps: int) -> float:
    x = np.asarray(x, np.float64)
    std = float(np.std(x, ddof=1)) if len(x) > 1 else 0.0
    return sharpe(float(np.mean(x)), std, num_steps) if len(x) else math.nan


def sharpe_standard_error(sharpe: float, n: int) -> float:
    """Standard error of a Sharpe ratio estimated from n independent normal returns
    (Lo 2002, "The statistics of Sharpe ratios"): sqrt((1 + S^2 / 2) / n)."""
    if not math.isfinite(sharpe) or n < 2:
        return math.nan
    return math.sqrt((1.0 + 0.5 * sharpe * sharpe) / n)


def bootstrap_sharpe_interval(x: np.ndarray, samples: int, confidence: float,
                              seed: int, num_steps: int) -> tuple[float, float]:
    """Percentile bootstrap interval of the Sharpe ratio (mean / sd) of ``x``.

    Episodes are resampled with replacement, ``samples`` times. Beyond
    ``BOOTSTRAP_MAX_UNITS`` episodes they are resampled in that many equal blocks of
    consecutive episodes (independent episodes: the same sampling distribution of the
    mean and variance, at a cost that does not grow with the episodes); the Sharpe ratio
    needs only each block's count, sum and sum of squares."""
    x = np.asarray(x, np.float64)
    n = len(x)
    if samples <= 0 or n < 2 or not math.isfinite(sharpe_ratio(x, num_steps)):
        return math.nan, math.nan
    units = min(n, BOOTSTRAP_MAX_UNITS)
    starts = (np.arange(units) * n) // units
    count = np.diff(np.append(starts, n)).astype(np.float64)
    total, squares = np.add.reduceat(x, starts), np.add.reduceat(x * x, starts)
    rng = np.random.default_rng(seed)
    chunk = max(1, BOOTSTRAP_CHUNK_VALUES // units)
    ratios = []
    for start in range(0, samples, chunk):
        rows = min(chunk, samples - start)
        draws = rng.integers(0, units, size=(rows, units), dtype=np.int32) \
            + units * np.arange(rows, dtype=np.int32)[:, None]
        times = np.bincount(draws.ravel(), minlength=rows * units).reshape(rows, units).astype(np.float64)
        k, s1, s2 = (times @ np.stack([count, total, squares], axis=1)).T
        mean = s1 / k
        var = np.maximum(s2 - k * mean * mean, 0.0) / np.maximum(k - 1, 1)
        ratios.append(np.where(var > 0, mean / np.sqrt(np.where(var > 0, var, 1.0)), np.nan))
    ratios = np.concatenate(ratios)
    tail = 0.5 * (1.0 - confidence)
    low, high = np.nanquantile(ratios, [tail, 1.0 - tail])
    return float(low), float(high)
