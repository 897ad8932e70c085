"""Does vectorisation pay? Wall clock of an N-member sweep against one run, same budget per member.

Both runs are the same config: the sweep trains its members together (``jax.vmap`` of
the learner's chunk over the member axis, one compiled program); the single run drops
the ``sweep`` section. Times exclude compilation (reported apart) and evaluation.
Prints a markdown row per run and the ratio.

    python benchmarks/bench_sweep.py [--config configs/sweep_cj_small.yaml] [--steps 1000000]
"""

from __future__ import annotations

import argparse
import platform
import time

import jax

from jaxmm.config import load_config
from jaxmm.population import build_population
from jaxmm.sweeps import placement
from jaxmm.training import compile_chunk


def timed_run(config) -> dict:
    population = build_population(config)
    state = population.init()
    mode = placement.resolve_mode(config.train.sharding, population.size, config.learner().num_envs)
    shardings = placement.state_shardings(state, mode, population.learner.env_axis_fields)
    state = placement.place(state, shardings)
    run, compile_s = compile_chunk(placement.jit_chunk(population.chunk, shardings), state)
    chunks = -(-config.train.total_env_steps // population.learner.env_steps_per_chunk)
    start = time.perf_counter()
    for _ in range(chunks):
        state, metrics = run(state)
    jax.block_until_ready(metrics)
    seconds = time.perf_counter() - start
    steps = chunks * population.learner.env_steps_per_chunk * population.size
    return {"members": population.size, "sharding": mode, "compile_s": compile_s, "train_s": seconds,
            "steps_per_s": steps / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/sweep_cj_small.yaml")
    parser.add_argument("--steps", type=float, default=1e6, help="environment steps per member")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    budget = [f"train.total_env_steps={int(args.steps)}", *args.overrides]
    sweep = load_config(args.config, budget)
    single = load_config(args.config, [*budget, "sweep.axes=[]"])
    rows = [timed_run(single), timed_run(sweep)]
    print(f"{platform.processor() or platform.machine()}, {jax.devices()[0].platform} x {jax.device_count()}, "
          f"jax {jax.__version__}, {time.strftime('%Y-%m-%d')}, {args.config}, {int(args.steps):,} steps per member")
    print("| members | sharding | compile s | train s | env steps/s (all members) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['members']} | {r['sharding']} | {r['compile_s']:.1f} | {r['train_s']:.1f} | {r['steps_per_s']:,.0f} |")
    print(f"sweep wall clock / single-run wall clock: {rows[1]['train_s'] / rows[0]['train_s']:.2f} "
          f"({rows[1]['members']} members)")


if __name__ == "__main__":
    main()
