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

``--rollout-only`` times the compiled rollout alone (results fetched to the host, no summary
and no bootstrap). ``--fused-step`` calls the environment step directly instead of through
``jaxmm.materialize.call``, so XLA fuses its outputs into the kernels that read them (the
rollout as it was before that change), in every case. ``--drop``, ``--no-histograms`` and
``--no-update`` switch parts of the accumulators off in the "full" and "every step" cases
(``bench_metrics.ablate``), to split the cost; trailing ``key=value`` overrides apply to every
case's config.

    python benchmarks/bench_eval.py [--cases model lob] [--repeats 5] [--episodes-scale K] [--out FILE]
        [--rollout-only] [--fused-step] [--drop markouts fill_rate] [--no-histograms] [--no-update]
        [key=value ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import time

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxmm import evaluate, materialize
from jaxmm.baselines import make_baseline
from jaxmm.config import load_config
from jaxmm.envs import make_env
from jaxmm.evaluation import accumulate, regime
from jaxmm.evaluation.accumulate import MetricSpec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_metrics import ablate  # noqa: E402

# case -> (config, policy, overrides, parallel envs, episodes): the default evaluation batch
# (eval.batch_size, 8,192) on both environments, and the model's fastest batch (bench_model.py).
CASES = {
    "model": ("configs/as2008.yaml", "avellaneda_stoikov", (), 8_192, 65_536),
    "model_wide": ("configs/as2008.yaml", "avellaneda_stoikov", (), 65_536, 196_608),
    "lob": ("configs/lob.yaml", "inventory_capped", (), 8_192, 16_384),
}


def _evaluation(env, params, policy, episodes, batch, spec, config, seed):
    evaluate.evaluate_policy(env, params, policy, episodes, seed=seed, batch_size=batch, spec=spec,
                             eval_config=config.eval)


def _rollout(env, params, policy, episodes, batch, spec, config, seed):
    """The compiled rollout of ``evaluate_policy`` alone, its results fetched to the host."""
    batch, num_batches, valid = evaluate._layout(episodes, batch)
    record = min(config.eval.plot_paths, batch) if spec.extended else 0
    jax.device_get(evaluate._run_many(
        jax.random.PRNGKey(seed), policy.params, regime.constant(params), jnp.asarray(valid), env=env,
        act=policy.act, stochastic=policy.stochastic, num_steps=config.env.num_steps, batch=batch,
        num_batches=num_batches, spec=spec, record=record))


def _timed(run, *args, **kwargs):
    """(wall-clock, CPU time of the process, all threads) of one call of ``run``."""
    start, cpu = time.perf_counter(), time.process_time()
    run(*args, **kwargs)
    return time.perf_counter() - start, time.process_time() - cpu


def _median_overheads(samples: dict) -> dict:
    """Per case, the median over rounds of its time / basic's time in the same round, less 1."""
    basic = np.asarray(samples["basic"])
    return {name: float(np.median(np.asarray(t) / basic)) - 1.0 for name, t in samples.items()}


def bench(case: str, repeats: int, episodes_scale: int = 1, rollout_only: bool = False,
          extra_overrides: tuple[str, ...] = ()) -> dict:
    path, policy_name, overrides, batch, episodes = CASES[case]
    episodes *= episodes_scale
    run = _rollout if rollout_only else _evaluation
    config = load_config(path, (*overrides, *extra_overrides))
    env, params = make_env(config)
    policy = make_baseline(policy_name, config, env, params)
    full = MetricSpec.from_config(config.eval, env, params)
    specs = {"basic": dataclasses.replace(full, extended=False), "full": full,
             "every_step": dataclasses.replace(full, histogram_stride=1)}
    times, cpu = {name: [] for name in specs}, {name: [] for name in specs}
    for name, spec in specs.items():  # compile + warm up
        _timed(run, env, params, policy, episodes, batch, spec, config, seed=0)
    names = list(specs)
    for r in range(repeats):  # each round runs every case once, in an order rotated by the round
        for name in names[r % len(names):] + names[:r % len(names)]:
            wall, used = _timed(run, env, params, policy, episodes, batch, specs[name], config, seed=r + 1)
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
            "rollout_only": rollout_only, "overrides": list(extra_overrides),
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
    parser.add_argument("--rollout-only", action="store_true",
                        help="time the compiled rollout alone (no host summary, no bootstrap)")
    parser.add_argument("--fused-step", action="store_true",
                        help="the environment step called directly, not through jaxmm.materialize.call")
    parser.add_argument("--drop", nargs="*", default=[], choices=sorted(accumulate.FAMILIES),
                        help="leave these metric families out")
    parser.add_argument("--no-histograms", action="store_true", help="histogram scatters as a no-op")
    parser.add_argument("--no-update", action="store_true", help="the per-step metric update as the identity")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides for every case")
    args = parser.parse_args(argv)
    ablate(frozenset(args.drop), args.no_histograms, args.no_update)
    if args.fused_step:
        materialize.call = lambda fn, step, *operands: fn(*operands)
    device = f"{jax.devices()[0].device_kind} ({platform.machine()}, {os.cpu_count()} cores)"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    ablations = {"dropped": sorted(args.drop), "no_histograms": args.no_histograms, "no_update": args.no_update,
                 "fused_step": args.fused_step}
    print(f"device: {device}; jax {jax.__version__}; {datetime.date.today()}; load average {load:.1f}; "
          f"{'rollout only' if args.rollout_only else 'whole evaluation'}; ablations {ablations}; "
          f"overrides {args.overrides}")
    print("| case | config, policy | parallel envs | episodes | basic (s) | full (s) "
          "| env steps/s basic -> full | overhead (wall / CPU) | histograms every step (s) | its overhead (wall / CPU) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case in args.cases:
        row = bench(case, args.repeats, args.episodes_scale, args.rollout_only, tuple(args.overrides))
        print(f"| {case} | `{row['config']}`, {row['policy']} | {row['parallel_envs']:,} | {row['episodes']:,} | "
              f"{row['basic_s']:.3f} | {row['full_s']:.3f} | {row['basic_steps_per_s']:,.0f} -> "
              f"{row['full_steps_per_s']:,.0f} | {100 * row['overhead']:+.1f}% / {100 * row['cpu_overhead']:+.1f}% | "
              f"{row['every_step_s']:.3f} | {100 * row['every_step_overhead']:+.1f}% / "
              f"{100 * row['every_step_cpu_overhead']:+.1f}% |", flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps({"bench": "eval", "device": device, **ablations, **row}) + "\n")


if __name__ == "__main__":
    main()
