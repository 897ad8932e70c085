"""A finished sweep's outputs: ``sweep.csv`` (one row per member), ``sweep.json``, ``pareto.png``.

Each member is evaluated on ``train.eval_episodes`` fresh episodes of ``eval.seed`` (its
own environment parameters), and on ``eval.validation_seed`` for ``#best=`` picks. The
baselines of ``train.baselines`` are drawn as frontiers over their risk parameter on the
same episodes: ``cartea_jaimungal`` over the running inventory penalty, the closed forms
over ``policy.risk_aversion``, ``fixed_spread`` over ``policy.fixed_depth`` and
``inventory_capped`` over ``policy.inventory_cap``.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxmm.config import Config
from jaxmm.sweeps import pareto
from jaxmm.sweeps.selection import SWEEP_JSON, validation_metrics

SWEEP_CSV, PARETO_PNG = "sweep.csv", "pareto.png"
METRIC_COLUMNS = ("pnl_mean", "pnl_std", "sharpe", "mean_abs_inventory", "quoting_ratio",
                  "fills_per_episode", "reward_mean")
RISKS = (("pnl_std", "PnL std"), ("mean_abs_inventory", "mean |q|"))
FRONTIER_POINTS = 16
RISK_AVERSION_DECADES = 2.0  # closed-form frontiers span the risk parameter this many decades each way
DEPTH_FACTOR = 4.0  # fixed-spread frontier: base depth / 4 ... base depth * 4
MAX_CAP = 10
PENALTY_KEY = "reward.running_inventory_penalty"
DEFAULT_PENALTY = 1e-4  # centre of the Cartea-Jaimungal frontier when the config's penalty is 0
CLOSED_FORMS = ("avellaneda_stoikov", "glft", "symmetric")


def _geomspace_around(value: float, decades: float, num: int) -> list[float]:
    return list(np.geomspace(value * 10 ** -decades, value * 10 ** decades, num))


def frontier_grid(name: str, config: Config, members) -> tuple[str, list[Any]] | None:
    """(dotted key, values) along which baseline ``name`` traces its frontier, or None."""
    if name == "cartea_jaimungal":
        swept = sorted({m.values[PENALTY_KEY] for m in members if PENALTY_KEY in m.values})
        if swept:
            return PENALTY_KEY, swept
        phi = config.reward.weights.get("running_inventory_penalty") or DEFAULT_PENALTY
        return PENALTY_KEY, _geomspace_around(phi, RISK_AVERSION_DECADES, FRONTIER_POINTS)
    if name in CLOSED_FORMS:
        return "policy.risk_aversion", _geomspace_around(config.policy.risk_aversion, RISK_AVERSION_DECADES,
                                                         FRONTIER_POINTS)
    if name == "fixed_spread":
        depth = config.policy.fixed_depth
        return "policy.fixed_depth", list(np.geomspace(depth / DEPTH_FACTOR, depth * DEPTH_FACTOR, FRONTIER_POINTS))
    if name == "inventory_capped":
        top = min(int(config.env.max_inventory), MAX_CAP)
        return "policy.inventory_cap", list(range(1, top + 1))
    return None


def _with(config: Config, key: str, value: Any) -> Config:
    section, name = key.split(".")
    if section == "reward":
        return dataclasses.replace(config, reward=dataclasses.replace(
            config.reward, weights={**config.reward.weights, name: float(value)}))
    return dataclasses.replace(config, **{section: dataclasses.replace(getattr(config, section), **{name: value})})


def frontier(name: str, population, episodes: int, seed: int) -> list[dict]:
    """Baseline ``name`` evaluated along its risk parameter (member 0's environment)."""
    from jaxmm.baselines import make_baseline
    from jaxmm.evaluate import evaluate_policy

    base = population.members[0].config
    grid = frontier_grid(name, base, population.members)
    if grid is None:
        return []
    key, values = grid
    env_params = population.member_env_params(0)
    points = []
    for value in values:
        config = _with(base, key, value)
        params = env_params.replace(reward_weights=jnp.asarray(config.reward.vector(), jnp.float32))
        policy = make_baseline(name, config, population.env, params)
        metrics = evaluate_policy(population.env, params, policy, episodes, seed=seed,
                                  batch_size=config.eval.batch_size)["metrics"]
        points.append({"policy": name, key: value, **{m: metrics.get(m) for m in METRIC_COLUMNS}})
    return points


def _column(rows: list[dict], key: str) -> np.ndarray:
    return np.asarray([np.nan if r.get(key) is None else r[key] for r in rows], float)


def summarise_fronts(rows: list[dict], frontiers: dict[str, list[dict]]) -> dict:
    """Per risk measure: non-dominated members, a shared reference point, the hypervolume of
    the learned front and of each frontier, and the learned members' PnL mean relative to
    each frontier's at matched risk."""
    out = {}
    for risk, _ in RISKS:
        sets = [(_column(rows, "pnl_mean"), _column(rows, risk))]
        sets += [(_column(f, "pnl_mean"), _column(f, risk)) for f in frontiers.values() if f]
        reference = pareto.reference_point(*sets)
        front = pareto.non_dominated(*sets[0])
        entry = {"reference_point": {"pnl_mean": reference[0], risk: reference[1]},
                 "non_dominated_members": [int(i) for i in np.flatnonzero(front)],
                 "hypervolume": {"learned": pareto.hypervolume(*sets[0], reference)}, "vs_frontier": {}}
        for name, points in frontiers.items():
            if not points:
                continue
            pnl, risks = _column(points, "pnl_mean"), _column(points, risk)
            entry["hypervolume"][name] = pareto.hypervolume(pnl, risks, reference)
            at = pareto.frontier_at(risks, pnl, sets[0][1][front])
            ratio = sets[0][0][front] / at
            inside = np.isfinite(ratio)
            entry["vs_frontier"][name] = {
                "hypervolume_ratio": entry["hypervolume"]["learned"] / entry["hypervolume"][name]
                if entry["hypervolume"][name] > 0 else None,
                "pnl_ratio_at_matched_risk": {"min": float(ratio[inside].min()) if inside.any() else None,
                                              "median": float(np.median(ratio[inside])) if inside.any() else None,
                                              "members_in_range": int(inside.sum())}}
        out[risk] = entry
    return out


def objective_vs_frontier(rows: list[dict], frontiers: dict[str, list[dict]], swept_keys) -> dict:
    """Each member's ``reward_mean`` against the frontier policy's at the member's own value of
    the parameter the frontier is traced along, for frontiers traced along one of
    ``swept_keys`` (the Cartea-Jaimungal optimum at the member's running penalty): how much of
    the optimum of its own objective a member reaches. Ratios only where the frontier's reward
    mean is positive."""
    out = {}
    for name, points in frontiers.items():
        keys = [k for k in swept_keys if points and k in points[0]]
        if len(keys) != 1:
            continue
        key = keys[0]
        optimum = {p[key]: p["reward_mean"] for p in points}
        ratios = [r["reward_mean"] / optimum[r[key]]
                  if r.get("reward_mean") is not None and (optimum.get(r[key]) or 0.0) > 0 else None
                  for r in rows]
        known = np.asarray([x for x in ratios if x is not None], float)
        out[name] = {"key": key, "reward_ratio": ratios,
                     "min": float(known.min()) if known.size else None,
                     "median": float(np.median(known)) if known.size else None}
    return out


def write_csv(path: Path, rows: list[dict]) -> Path:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def plot_pareto(rows: list[dict], frontiers: dict[str, list[dict]], fronts: dict, path: Path) -> Path:
    from jaxmm.reporting import _pyplot

    plt = _pyplot()
    fig, axes = plt.subplots(1, len(RISKS), figsize=(6 * len(RISKS), 4.5))
    for ax, (risk, label) in zip(axes, RISKS):
        pnl, risks = _column(rows, "pnl_mean"), _column(rows, risk)
        front = np.zeros(len(rows), bool)
        front[fronts[risk]["non_dominated_members"]] = True
        ax.scatter(risks[~front], pnl[~front], s=14, c="0.6", label="learned members")
        ax.scatter(risks[front], pnl[front], s=22, c="C3", label="learned, non-dominated")
        for i, (name, points) in enumerate(frontiers.items()):
            if points:
                order = np.argsort(_column(points, risk))
                ax.plot(_column(points, risk)[order], _column(points, "pnl_mean")[order], marker=".",
                        lw=1.0, c=f"C{i % 3}", label=name)
        ax.set_xlabel(label)
        ax.set_ylabel("PnL mean")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def evaluate_sweep(population, state, run_dir: Path) -> dict:
    """Evaluate every member and the baseline frontiers; write and print the sweep's table."""
    from jaxmm.evaluate import evaluate_policy
    from jaxmm.reporting import format_table, write_json

    config = population.config
    episodes = config.train.eval_episodes
    rows = []
    for m in population.members:
        row = {"member": m.index, **m.values, "seed": m.config.train.seed}
        if episodes:
            metrics = evaluate_policy(population.env, population.member_env_params(m.index),
                                      population.policy(state, m.index), episodes, seed=config.eval.seed,
                                      batch_size=config.eval.batch_size)["metrics"]
            row.update({key: metrics.get(key) for key in METRIC_COLUMNS})
        rows.append(row)
    write_csv(run_dir / SWEEP_CSV, rows)
    record: dict[str, Any] = {"members": rows, "swept_keys": list(population.swept_keys),
                              "episodes": episodes, "seed": config.eval.seed}
    if episodes:
        frontiers = {name: frontier(name, population, episodes, config.eval.seed)
                     for name in config.train.baselines}
        fronts = summarise_fronts(rows, frontiers)
        objective = objective_vs_frontier(rows, frontiers, population.swept_keys)
        record.update(frontiers=frontiers, fronts=fronts, objective_vs_frontier=objective)
        plot_pareto(rows, frontiers, fronts, run_dir / PARETO_PNG)
        record["validation"] = {"seed": config.eval.validation_seed, "episodes": config.eval.episodes,
                                "members": validation_metrics(population, state)}
        print(format_table({f"member {r['member']}": r for r in rows}))
        for risk, entry in fronts.items():
            print(f"{risk}: hypervolume " + ", ".join(f"{k} {v:.4g}" for k, v in entry["hypervolume"].items())
                  + f" (reference {entry['reference_point']})")
        for name, entry in objective.items():
            if entry["median"] is not None:
                print(f"reward mean against {name} at the same {entry['key']}: median "
                      f"{entry['median']:.3f}, worst {entry['min']:.3f}")
    write_json(run_dir / SWEEP_JSON, record)
    return record

