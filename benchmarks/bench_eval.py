"""What the full evaluation metric set costs: ``evaluate_policy`` with and without it.

"full" is the evaluation as ``python -m jaxmm evaluate`` runs it: inventory histogram,
markout windows, decision-time slippage pipeline, drawdown, fill rate by quote distance,
PnL decomposition, sample paths, Sharpe bootstrap; its two histograms (inventory, fill rate by
quote distance) take one (episode, step) pair in ``eval.histogram_sample_every`` (4).
"every step" is the same with the histograms over every step (``histogram_sample_every: 1``).
"basic" is the same rollout with
``MetricSpec(extended=False)``: no accumulators, and the info entries that only they read
are not summed (on the book that also drops three sums the evaluation had before them, so
the overhead shown is, if anything, an overestimate). Each case is compiled and warmed up
first; each of ``--repeats`` rounds times every case once (order rotated by round); the
overhead is the median over rounds of full / basic within a round, the times the best ones.

    python benchmarks/bench_eval.py [--cases model lob] [--repeats 5] [--episodes-scale K] [--out FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import time

import jax
import numpy as np

from jaxmm.baselines import make_baseline
from jaxmm.config import load_config
from jaxmm.envs import make_env
from jaxmm.evaluate import evaluate_policy
from jaxmm.evaluation.accumulate import MetricSpec

# case -> (config, policy, overrides, parallel envs, episodes): the default evaluation batch
# (eval.batch_size, 8,192) on both environments, and the model's fastest batch (bench_model.py).
CASES = {
    "model": ("configs/as2008.yaml", "avellaneda_stoikov", (), 8_192, 65_536),
    "model_wide": ("configs/as2008.yaml", "avellaneda_stoikov", (), 65_536, 196_608),
    "lob": ("configs/lob.yaml", "inventory_capped", (), 8_192, 16_384),
}


def _timed(env, params, policy, episodes, batch, spec, config, seed):
    """(wall-clock, CPU time of the process, all threads) of one evaluation."""
    start, cpu = time.perf_counter(), time.process_time()
    evaluate_policy(env, params, policy, episodes, seed=seed, batch_size=batch, spec=spec,
                    eval_config=config.eval)
    return time.perf_counter() - start, time.process_time() - cpu


def _median_overheads(samples: dict) -> dict:
    """Per case, the median over rounds of its time / basic's time in the same round, less 1."""
    basic = np.asarray(samples["basic"])
    return {name: float(np.median(np.asarray(t) / basic)) - 1.0 for name, t in samples.items()}


def bench(case: str, repeats: int, episodes_scale: int = 1) -> dict:
    path, policy_name, overrides, batch, episodes = CASES[case]
    episodes *= episodes_scale
    config = load_config(path, overrides)
    env, params = make_env(config)
    policy = make_baseline(policy_name, config, env, params)
    full = MetricSpec.from_config(config.eval, env, params)
    specs = {"basic": dataclasses.replace(full, extended=False), "full": full,
             "every_step": dataclasses.replace(full, histogram_stride=1)}
    times, cpu = {name: [] for name in specs}, {name: [] for name in specs}
    for name, spec in specs.items():  # compile + warm up
        _timed(env, params, policy, episodes, batch, spec, config, seed=0)
    names = list(specs)
    for r in range(repeats):  # each round runs every case once, in an order rotated by the round
        for name in names[r % len(names):] + names[:r % len(names)]:
            wall, used = _timed(env, params, policy, episodes, batch, specs[name], config, seed=r + 1)
            times[name].append(wall)
            cpu[name].append(used)
    best = {name: min(t) for name, t in times.items()}
    # The overhead is the median over rounds of the ratio within the round: load that changes
    # between rounds hits the cases of one round alike (best-of times are shown beside it).
    # CPU time (both cores' work) is shown too: it does not count the time a virtual machine's
    # cores are taken away (steal), which moves wall-clock times by more than the effect here.
    ratio, cpu_ratio = _median_overheads(times), _median_overheads(cpu)
    steps = episodes * config.env.num_steps
    return {"case": case, "config": path, "policy": policy_name, "parallel_envs": batch, "episodes": episodes,
            "histogram_stride": full.histogram_stride, "times_s": times, "cpu_s": cpu,
            "cpu_overhead": cpu_ratio["full"], "every_step_cpu_overhead": cpu_ratio["every_step"],
            "basic_s": best["basic"], "full_s": best["full"], "every_step_s": best["every_step"],
            "basic_steps_per_s": steps / best["basic"], "full_steps_per_s": steps / best["full"],
            "overhead": ratio["full"], "every_step_overhead": ratio["every_step"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(CASES))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--episodes-scale", type=int, default=1,
                        help="multiply every case's episodes (longer runs, less timing noise)")
    parser.add_argument("--out", default=None, help="append one JSON line per case")
    args = parser.parse_args(argv)
    device = f"{jax.devices()[0].device_kind} ({platform.machine()}, {os.cpu_count()} cores)"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"device: {device}; jax {jax.__version__}; {datetime.date.today()}; load average {load:.1f}")
    print("| case | config, policy | parallel envs | episodes | basic (s) | full (s) "
          "| env steps/s basic -> full | overhead (wall / CPU) | histograms every step (s) | its overhead (wall / CPU) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case in args.cases:
        row = bench(case, args.repeats, args.episodes_scale)
        print(f"| {case} | `{row['config']}`, {row['policy']} | {row['parallel_envs']:,} | {row['episodes']:,} | "
              f"{row['basic_s']:.3f} | {row['full_s']:.3f} | {row['basic_steps_per_s']:,.0f} -> "
              f"{row['full_steps_per_s']:,.0f} | {100 * row['overhead']:+.1f}% / {100 * row['cpu_overhead']:+.1f}% | "
              f"{row['every_step_s']:.3f} | {100 * row['every_step_overhead']:+.1f}% / "
              f"{100 * row['every_step_cpu_overhead']:+.1f}% |", flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps({"bench": "eval", "device": device, **row}) + "\n")


if __name__ == "__main__":
    main()
