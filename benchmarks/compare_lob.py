"""Trained policies against the closed-form and fixed-spread baselines on the order book.

Every policy runs ``--episodes`` episodes of the book in ``--config`` with the
held-out ``--seed``. The fixed-spread depth is chosen honestly: each depth in
``--fixed-ticks`` runs on the separate ``--validation-seed`` and only the one with
the best PnL Sharpe ratio there is reported on the held-out seed; the inventory
cap of the ``inventory_capped`` heuristic (at that depth) is chosen the same way. A trained
policy runs on the environment saved with its run (same book; its own action
format) and the script refuses a run whose book differs from ``--config``'s.

    python benchmarks/compare_lob.py runs/ppo_lob "runs/sweep_lob#best=sharpe" --config configs/lob.yaml \\
        --episodes 2000 --seed 1001 --validation-seed 1000 [--out table.json]

Prints a markdown table: Sharpe, PnL mean/std, mean |inventory|, fills per episode,
spread, and the order-book extras (markout, adverse selection, fees) summed per episode.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from jaxmm.config import load_config
from jaxmm.envs import make_env
from jaxmm.errors import run_guarded
from jaxmm.evaluate import evaluate_policy
from jaxmm.policies import CHECKPOINT_PREFIX, checkpoint_config, checkpoint_member, resolve_policy

DEFAULT_BASELINES = ("avellaneda_stoikov", "glft", "symmetric")
# Settings of the agent's action format, and the baselines' quote-model fit: a run may
# differ from --config in these only (none of them changes the book's dynamics).
ACTION_KEYS = {"action_type", "offset_grid", "quote_sides", "quote_size", "quote_reference", "max_quote_size",
               "max_quote_offset", "flatten_action", "calibrate_quote_model"}
EXTRAS = ("markout", "adverse_selection", "fees", "taker_volume", "book_events")


def _book(config) -> dict:
    return {k: v for k, v in config.env.to_dict().items() if k not in ACTION_KEYS}


def evaluate(name, config, spec, episodes, seed, batch_size):
    env, env_params = make_env(config)
    policy = resolve_policy(spec, config, env, env_params)
    start = time.perf_counter()
    metrics = evaluate_policy(env, env_params, policy, episodes, seed=seed, batch_size=batch_size)["metrics"]
    metrics["eval_s"] = time.perf_counter() - start
    metrics["label"] = name
    return metrics


def row(m: dict) -> str:
    extras = m.get("info_sums", {})
    cells = [m["label"], f"{m['sharpe']:.3f}", f"{m['pnl_mean']:.4f}", f"{m['pnl_std']:.4f}",
             f"{m['mean_abs_inventory']:.3f}", f"{m['fills_per_episode']:.1f}", f"{m['spread_mean']:.4f}"]
    cells += [f"{extras[k]:.4f}" if k in extras else "-" for k in EXTRAS]
    return "| " + " | ".join(cells) + " |"


def table(rows: list[dict]) -> str:
    head = ["policy", "Sharpe", "PnL mean", "PnL std", "mean abs inv", "fills/ep", "spread", *EXTRAS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + [row(m) for m in rows])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", help="run directories of trained policies")
    parser.add_argument("--config", default="configs/lob.yaml", help="the book the baselines run on")
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1001, help="held-out evaluation seed")
    parser.add_argument("--validation-seed", type=int, default=1000,
                        help="seed on which the fixed-spread depth is chosen")
    parser.add_argument("--fixed-ticks", type=float, nargs="*", default=[0.5, 1.0, 2.0, 3.0],
                        help="fixed-spread depths to choose from, in ticks from the mid")
    parser.add_argument("--caps", type=int, nargs="*", default=[1, 2, 3, 4, 6],
                        help="inventory caps of the inventory_capped heuristic to choose from "
                             "(at the chosen fixed-spread depth)")
    parser.add_argument("--baselines", nargs="*", default=list(DEFAULT_BASELINES))
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--out", help="write all metrics as JSON here")
    args = parser.parse_args(argv)

    config = load_config(args.config)
    if config.env.name != "lob":
        parser.error(f"{args.config} is not an order-book config (env.name: {config.env.name})")
    tick = config.env.tick_size
    # The baselines quote prices: the continuous action format of the same book (a discrete
    # config's row orientation, quote_sides, has no meaning there).
    continuous = config.replace(["env.action_type=continuous", "env.quote_sides=bid_ask"])
    rows, validation = [], []

    for run in args.runs:  # RUN, or a sweep's RUN#member=K / RUN#best=sharpe
        spec = CHECKPOINT_PREFIX + str(run)
        run_dir, member = checkpoint_member(spec)
        saved = checkpoint_config(spec)
        if _book(saved) != _book(config):
            diff = sorted(k for k in _book(config) if _book(saved).get(k) != _book(config).get(k))
            parser.error(f"{run} was trained on a different book ({', '.join(diff)})")
        label = f"{saved.train.algo} ({run_dir.name}{f', member {member}' if '#' in str(run) else ''})"
        rows.append(evaluate(label, saved, f"{CHECKPOINT_PREFIX}{run_dir}#member={member}", args.episodes,
                             args.seed, args.batch_size))

    for ticks in args.fixed_ticks:
        cfg = continuous.replace([f"policy.fixed_depth={ticks * tick}"])
        validation.append(evaluate(f"fixed_spread {ticks:g} ticks", cfg, "fixed_spread", args.episodes,
                                   args.validation_seed, args.batch_size))
    if validation:
        best = max(validation, key=lambda m: m["sharpe"])
        ticks = args.fixed_ticks[validation.index(best)]
        cfg = continuous.replace([f"policy.fixed_depth={ticks * tick}"])
        rows.append(evaluate(f"fixed_spread {ticks:g} ticks (best on validation)", cfg, "fixed_spread",
                             args.episodes, args.seed, args.batch_size))
        capped = []
        for cap in args.caps:
            capped.append(evaluate(f"inventory_capped {ticks:g} ticks, cap {cap}",
                                   cfg.replace([f"policy.inventory_cap={cap}"]), "inventory_capped",
                                   args.episodes, args.validation_seed, args.batch_size))
        validation += capped
        if capped:
            cap = args.caps[capped.index(max(capped, key=lambda m: m["sharpe"]))]
            rows.append(evaluate(f"inventory_capped {ticks:g} ticks, cap {cap} (best on validation)",
                                 cfg.replace([f"policy.inventory_cap={cap}"]), "inventory_capped",
                                 args.episodes, args.seed, args.batch_size))
    for name in args.baselines:
        rows.append(evaluate(name, continuous, name, args.episodes, args.seed, args.batch_size))

    header = f"book: {args.config}; {args.episodes} episodes per policy"
    if validation:
        print(f"## Fixed-spread depth choice ({header}, validation seed {args.validation_seed})\n")
        print(table(validation) + "\n")
    print(f"## Held-out comparison ({header}, seed {args.seed})\n")
    print(table(rows))
    result = {"config": args.config, "episodes": args.episodes, "seed": args.seed,
              "validation_seed": args.validation_seed, "validation": validation, "held_out": rows}
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2, default=float))
    return result


if __name__ == "__main__":
    sys.exit(run_guarded(main))
