"""Markouts against the informed share, slippage against latency: one figure and its numbers.

    python -m jaxmm.evaluation.sensitivity --out docs/markouts_slippage.png [--episodes 2000]

Left: the markout curve of passive fills (mid move h steps after the fill, per unit,
signed by the fill's side) of ``fixed_spread`` at the touch of the ``configs/lob_informed.yaml``
book for several informed shares, one vmapped program. Right: the slippage per unit of
the market orders of ``inventory_flattening`` (the inventory-capped quotes plus a market
order for the whole known inventory at the cap) against the mid at decision and at arrival,
for several latencies (one program per latency). Writes the PNG and a JSON next to it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from jaxmm.baselines.fixed_spread import make_fixed_spread, make_inventory_flattening
from jaxmm.config import load_config
from jaxmm.envs import make_env
from jaxmm.evaluate import evaluate_policy, evaluate_scenarios
from jaxmm.evaluation import regime

CONFIG = "configs/lob_informed.yaml"
INFORMED_SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)
LATENCIES = (0, 1, 2, 4, 8)
SETTINGS = ("env.calibrate_quote_model=false", "policy.fixed_depth=0.005", "policy.inventory_cap=2",
            "eval.plot_paths=0", "eval.bootstrap_samples=0", "eval.markout_horizons=[1,2,5,10,20,50,100]")


def ratio_with_error(numerator: np.ndarray, denominator: np.ndarray) -> tuple[float, float]:
    """sum(num) / sum(den) over episodes and its standard error (delta method)."""
    ratio = numerator.sum() / denominator.sum()
    residual = numerator - ratio * denominator
    n = len(numerator)
    return float(ratio), float(np.sqrt((residual ** 2).sum() / (n - 1) / n) / denominator.mean())


def markouts_by_share(episodes: int, seed: int) -> list[dict]:
    base = load_config(CONFIG, SETTINGS)
    built = [make_env(base.replace([f"env.informed_share={share}"])) for share in INFORMED_SHARES]
    env = built[0][0]
    policy = make_fixed_spread(base, env, built[0][1])
    results = evaluate_scenarios(env, regime.stack([regime.constant(p) for _, p in built]), policy, episodes,
                                 seed=seed, eval_config=base.eval)
    return [{"informed_share": share, **r["distributions"]["markout_curve"],
             "fills_per_episode": r["metrics"]["fills_per_episode"]} for share, r in zip(INFORMED_SHARES, results)]


def slippage_by_latency(episodes: int, seed: int) -> list[dict]:
    rows = []
    for latency in LATENCIES:
        config = load_config(CONFIG, [*SETTINGS, f"env.latency={latency}"])
        env, params = make_env(config)
        result = evaluate_policy(env, params, make_inventory_flattening(config, env, params), episodes,
                                 seed=seed, eval_config=config.eval)
        per = result["per_episode"]
        decision = ratio_with_error(per["slippage_decision"], per["taker_volume"])
        arrival = ratio_with_error(per["slippage"], per["taker_volume"])
        rows.append({"latency": latency, "decision": decision[0], "decision_se": decision[1],
                     "arrival": arrival[0], "arrival_se": arrival[1],
                     "market_order_volume": result["metrics"]["market_order_volume"]})
    return rows


def plot(markouts: list[dict], slippage: list[dict], tick: float, path: Path) -> Path:
    from jaxmm.evaluation.plots import _pyplot

    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for row in markouts:
        left.plot(row["horizon"], np.asarray(row["per_unit"]) / tick, "o-", ms=3,
                  label=f"informed share {row['informed_share']:g}")
    left.axhline(0.0, color="grey", lw=0.5)
    left.set_xscale("symlog", linthresh=1)
    left.set_xlim(left=0)
    left.set(title="markouts of passive fills (fixed spread at the touch)", xlabel="steps after the fill",
             ylabel="mid move per filled unit (ticks)")
    left.legend(fontsize="small")
    latency = [r["latency"] for r in slippage]
    for key, label in (("decision", "against the mid at decision"), ("arrival", "against the mid at arrival")):
        right.errorbar(latency, np.asarray([r[key] for r in slippage]) / tick,
                       yerr=2 * np.asarray([r[f"{key}_se"] for r in slippage]) / tick, fmt="o-", capsize=3,
                       label=label)
    right.set(title="slippage of market orders (inventory_flattening)", xlabel="latency (steps)",
              ylabel="cost per unit (ticks), ±2 s.e.")
    right.legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/markouts_slippage.png")
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1001)
    args = parser.parse_args(argv)
    tick = load_config(CONFIG).env.tick_size
    markouts = markouts_by_share(args.episodes, args.seed)
    slippage = slippage_by_latency(args.episodes, args.seed)
    out = plot(markouts, slippage, tick, Path(args.out))
    numbers = {"config": CONFIG, "episodes": args.episodes, "seed": args.seed, "tick_size": tick,
               "markouts": markouts, "slippage": slippage}
    out.with_suffix(".json").write_text(json.dumps(numbers, indent=2) + "\n")
    print(f"wrote {out} and {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
