"""A floor under the order-book step on this machine: dependent level-wide phases alone.

The book step (``jaxmm.envs.lob.env``) runs its phases in the order the model prescribes, each
on the book the previous one left: the agent's message, the cancellations and the limit
orders of each side, the takers' walk on each side, then the mid and the window shift, each a
reduction over the price levels (a prefix sum, a best price) followed by an update of the
levels that reads it. This benchmark times just that skeleton: ``--phases`` phases a step,
each the project's ``book.prefix_sum`` over one side's levels (sides alternating; levels x
batch, the batch minor, as the batch-wide layout) and one elementwise update of that side that
reads the sum, in a jitted ``lax.scan``, with no random draws, no event slots, no queue
positions, no observation: 9 phases are the dependent ones of ``configs/lob.yaml``'s step
(agent, 2 cancellation, 2 limit, 2 taker, mid and window shift). The prefix sum is timed in
two forms: ``chain``, the book's (a running sum over the levels, materialised once), and
``matmul``, a float32 product with a triangular matrix (exact below 2^24, as the per-book
form). The skeleton shows what the phases cost by themselves; which form is faster in the
whole step is a separate measurement (``bench_lob.py`` with the form swapped).

    python benchmarks/bench_book_floor.py [--config configs/lob.yaml] [--batches 1024 8192 16384]
        [--phases 1 4 9] [--prefix chain matmul] [--steps 200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
import time

import jax
import jax.numpy as jnp

from bench_lob import machine
from jaxmm.config import load_config
from jaxmm.envs import make_env
from jaxmm.envs.lob import book as lob
from jaxmm.errors import run_guarded


def matmul_prefix_sum(x: jax.Array) -> jax.Array:
    """Inclusive sum over the first axis (levels) as one float32 matrix product."""
    lower = jnp.tril(jnp.ones((x.shape[0], x.shape[0]), jnp.float32))
    return jnp.rint(lower @ x.astype(jnp.float32)).astype(x.dtype)


PREFIX_SUMS = {"chain": lob.prefix_sum, "matmul": matmul_prefix_sum}


def make_runner(levels: int, batch: int, phases: int, steps: int, prefix: str = "chain"):
    """A jitted scan of ``steps`` steps of ``phases`` dependent phases over a (2, levels, batch) book."""
    prefix_sum = PREFIX_SUMS[prefix]

    def phase(volume, side):
        own = volume[side]
        inclusive = prefix_sum(own)  # (levels, batch)
        total = inclusive[-1]
        # An update that reads the sum at every level: take one unit from the levels past half
        # of the side's volume, and add one where the total is a multiple of three.
        taken = (inclusive > total // 2).astype(jnp.int32)
        new = jnp.maximum(own - taken, 0) + (total % 3 == 0).astype(jnp.int32)
        return volume.at[side].set(new)

    def step(volume, _):
        for p in range(phases):
            volume = phase(volume, p % lob.NUM_SIDES)
        return volume, None

    @jax.jit
    def run(volume):
        return jax.lax.scan(step, volume, None, length=steps)[0]

    return run, jnp.ones((lob.NUM_SIDES, levels, batch), jnp.int32)


def best_rate(levels: int, batch: int, phases: int, steps: int, repeats: int, prefix: str = "chain") -> float:
    run, volume = make_runner(levels, batch, phases, steps, prefix)
    jax.block_until_ready(run(volume))  # compile and warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(run(volume))
        best = min(best, time.perf_counter() - start)
    return batch * steps / best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/lob.yaml", help="the book whose level count is used")
    parser.add_argument("--batches", type=int, nargs="+", default=[1024, 8192, 16384])
    parser.add_argument("--phases", type=int, nargs="+", default=[1, 4, 9])
    parser.add_argument("--prefix", nargs="+", choices=sorted(PREFIX_SUMS), default=["chain", "matmul"])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    for name in ("batches", "phases"):
        if min(getattr(args, name)) < 1:
            parser.error(f"--{name} must be positive, got {getattr(args, name)}")
    if args.steps < 1 or args.repeats < 1:
        parser.error("--steps and --repeats must be positive")
    _, params = make_env(load_config(args.config, ["env.calibrate_quote_model=false"]))
    levels = int(params.initial_book.volume.shape[-1])
    where = machine()  # what bench_lob.py records with every row
    print(f"{args.config}: a window of {levels} price levels (each side's volume spans it); "
          f"{where['machine']}, {where['cpu']}, {where['device']}, jax {where['jax']}")
    print("| prefix sum | envs | " + " | ".join(f"{p} phases (env steps/s)" for p in args.phases) + " |")
    print("|---|---:|" + "---:|" * len(args.phases))
    for prefix in args.prefix:
        for batch in args.batches:
            rates = [best_rate(levels, batch, p, args.steps, args.repeats, prefix) for p in args.phases]
            print(f"| {prefix} | {batch:,} | " + " | ".join(f"{r:,.0f}" for r in rates) + " |", flush=True)


if __name__ == "__main__":
    sys.exit(run_guarded(main))
