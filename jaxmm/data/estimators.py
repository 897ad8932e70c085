"""Maximum-likelihood and least-squares estimators of the calibration, each with its standard error.

Plain numpy (no optimiser dependency): one-dimensional likelihood equations are solved by
bisection, the Hawkes likelihood by a grid over the decay with Newton steps inside and a parabola
through the best grid points.
Standard errors come from the Fisher information (likelihoods) or the weighted least-squares
covariance (fill-intensity curve), so a calibration report says how far to trust each number.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

BISECTION_STEPS = 200


class Estimate(NamedTuple):
    value: float
    standard_error: float


def _bisect(f, low: float, high: float) -> float:
    """A root of the decreasing function ``f`` in [low, high] (the nearest end when it has none)."""
    f_low, f_high = f(low), f(high)
    if f_low <= 0:
        return low
    if f_high >= 0:
        return high
    for _ in range(BISECTION_STEPS):
        middle = 0.5 * (low + high)
        if f(middle) > 0:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def power_law_exponent(distances: np.ndarray, max_distance: int, bounds=(-5.0, 10.0)) -> Estimate:
    """MLE of ``a`` in ``P(d) ~ d^-a`` on ``d = 1..max_distance``: the mean of log d under the
    fitted law equals the sample's."""
    distances = np.asarray(distances, np.float64)
    support = np.arange(1, max_distance + 1, dtype=np.float64)
    logs = np.log(support)
    target = np.log(distances).mean()

    def moments(a):
        weights = support ** -a
        weights /= weights.sum()
        mean = (weights * logs).sum()
        return mean, (weights * (logs - mean) ** 2).sum()

    a = _bisect(lambda a: moments(a)[0] - target, *bounds)
    variance = moments(a)[1]
    return Estimate(a, 1.0 / math.sqrt(len(distances) * variance) if variance > 0 else math.inf)


def truncated_geometric_mean(sizes: np.ndarray, max_size: int) -> Estimate:
    """MLE of the mean ``1/p`` of a geometric law on 1, 2, ... truncated at ``max_size`` (the
    simulator's order sizes): the truncated law's mean equals the sample's."""
    sizes = np.asarray(sizes, np.float64)
    support = np.arange(1, max_size + 1, dtype=np.float64)

    def moments(p):
        weights = (1.0 - p) ** (support - 1)
        weights /= weights.sum()
        mean = (weights * support).sum()
        return mean, (weights * (support - mean) ** 2).sum()

    target = sizes.mean()
    p = _bisect(lambda p: moments(p)[0] - target, 1e-6, 1.0 - 1e-9)
    variance = moments(p)[1]
    # Sufficient statistic s with natural parameter log(1 - p): I(p) = n Var(s) / (1 - p)^2.
    information = len(sizes) * variance / (1.0 - p) ** 2
    se_p = 1.0 / math.sqrt(information) if information > 0 else math.inf
    return Estimate(1.0 / p, se_p / p ** 2)


def rate(count: float, exposure: float) -> Estimate:
    """Poisson rate ``count / exposure`` and its standard error."""
    return Estimate(count / exposure, math.sqrt(max(count, 0.0)) / exposure)


class FillCurve(NamedTuple):
    depths: np.ndarray  # ticks
    rates: np.ndarray  # aggressors reaching each depth, per side and second
    counts: np.ndarray
    arrival_rate: Estimate  # A, per side and second
    fill_decay: Estimate  # k, per tick


def fill_curve(reach: np.ndarray, duration_seconds: float, min_count: int) -> FillCurve:
    """``A exp(-k depth)`` fitted to how often aggressors reach each depth (the empirical survival
    of their reach at the distinct depths observed), weighted least squares on log rates with
    weights the counts (their Poisson variance); per side (both sides pooled, halved)."""
    reach = np.asarray(reach, np.float64)
    depths = np.unique(reach[reach > 0])
    counts = np.asarray([np.count_nonzero(reach >= depth - 1e-9) for depth in depths], np.float64)
    keep = counts >= min_count
    depths, counts = depths[keep], counts[keep]
    rates = counts / (2.0 * duration_seconds)
    if len(depths) < 2:
        raise ValueError("too few depths reached by enough aggressors to fit a fill-intensity curve")
    design = np.stack([np.ones_like(depths), -depths], axis=1)
    weights = counts
    normal = design.T @ (weights[:, None] * design)
    coefficients = np.linalg.solve(normal, design.T @ (weights * np.log(rates)))
    covariance = np.linalg.inv(normal)
    log_a, k = coefficients
    a = math.exp(log_a)
    return FillCurve(depths, rates, counts, Estimate(a, a * math.sqrt(covariance[0, 0])),
                     Estimate(k, math.sqrt(covariance[1, 1])))


def volatility(mid: np.ndarray, dt: float, horizon: int) -> Estimate:
    """sigma per sqrt(time) from overlapping ``horizon``-step increments of the mid (a longer
    horizon averages out bid-ask bounce and tick rounding), drift removed."""
    mid = np.asarray(mid, np.float64)
    increments = mid[horizon:] - mid[:-horizon]
    drift = (mid[-1] - mid[0]) / (len(mid) - 1)
    variance = np.mean((increments - drift * horizon) ** 2) / (horizon * dt)
    independent = max((len(mid) - 1) / horizon, 1.0)
    sigma = math.sqrt(variance)
    return Estimate(sigma, sigma / math.sqrt(2.0 * independent))


def drift(mid: np.ndarray, dt: float, sigma: float) -> Estimate:
    """Mean change of the mid per unit time and its standard error sigma / sqrt(T)."""
    mid = np.asarray(mid, np.float64)
    duration = (len(mid) - 1) * dt
    return Estimate((mid[-1] - mid[0]) / duration, sigma / math.sqrt(duration))


class Hawkes(NamedTuple):
    baseline: Estimate  # probability per step and side without excitation
    jump: Estimate  # added to the probability per arrival on that side
    decay: Estimate  # per-step decay factor of the excitation


HAWKES_DECAYS = np.linspace(0.05, 0.95, 19)
NEWTON_STEPS = 30
MIN_PROBABILITY = 1e-6


def _bernoulli_fit(arrivals: np.ndarray, trace: np.ndarray):
    """Newton on (baseline, jump) of the log-likelihood of p_t = baseline + jump * trace_t."""
    theta = np.asarray([max(arrivals.mean(), 0.01), 0.0])
    design = np.stack([np.ones_like(trace), trace], axis=1)
    for _ in range(NEWTON_STEPS):
        p = np.clip(design @ theta, MIN_PROBABILITY, 1 - MIN_PROBABILITY)
        weight = arrivals / p ** 2 + (1 - arrivals) / (1 - p) ** 2
        gradient = design.T @ (arrivals / p - (1 - arrivals) / (1 - p))
        hessian = design.T @ (weight[:, None] * design)
        step = np.linalg.solve(hessian, gradient)
        theta = theta + step
        theta[1] = max(theta[1], 0.0)
        theta[0] = max(theta[0], MIN_PROBABILITY)
    p = np.clip(design @ theta, MIN_PROBABILITY, 1 - MIN_PROBABILITY)
    loglik = np.sum(arrivals * np.log(p) + (1 - arrivals) * np.log(1 - p))
    weight = arrivals / p ** 2 + (1 - arrivals) / (1 - p) ** 2
    return theta, loglik, np.linalg.inv(design.T @ (weight[:, None] * design))


def hawkes(arrivals: np.ndarray) -> Hawkes:
    """Discrete-time Hawkes MLE of the simulator's market orders: on each side, an arrival in step
    t has probability ``baseline + e_t``, ``e_t = decay * e_{t-1} + jump * arrival_{t-1}``.
    ``arrivals``: bool (steps, 2)."""
    arrivals = np.asarray(arrivals, np.float64)

    def fit(decay):
        trace = np.zeros_like(arrivals)
        for t in range(1, len(arrivals)):
            trace[t] = decay * trace[t - 1] + arrivals[t - 1]
        return _bernoulli_fit(arrivals.ravel(), trace.ravel())

    logliks = np.asarray([fit(decay)[1] for decay in HAWKES_DECAYS])
    best = int(np.argmax(logliks))
    decay, error = float(HAWKES_DECAYS[best]), math.inf
    if 0 < best < len(HAWKES_DECAYS) - 1:
        # The profile likelihood's parabola through the best grid point and its neighbours:
        # its vertex is the estimate and its curvature the Fisher information of the decay.
        x, y = HAWKES_DECAYS[best - 1:best + 2], logliks[best - 1:best + 2]
        curvature, slope, _ = np.polyfit(x, y, 2)
        if curvature < 0:
            decay = float(np.clip(-slope / (2 * curvature), x[0], x[-1]))
            error = 1.0 / math.sqrt(-2 * curvature)
    theta, _, covariance = fit(decay)
    return Hawkes(Estimate(theta[0], math.sqrt(covariance[0, 0])), Estimate(theta[1], math.sqrt(covariance[1, 1])),
                  Estimate(decay, error))
