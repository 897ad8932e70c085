"""What the in-rollout metric accumulators cost by themselves, per environment step.

``jaxmm.evaluation.accumulate.update`` runs in a ``lax.scan`` over recorded-like step entries
(random fills, inventories, mid moves and quote distances, generated up front), with no
environment: the time above a scan that only reads the same entries is the accumulators' cost.
``--drop`` leaves metric families out (``markouts``, ``fill_rate``) and ``--no-histograms``
replaces the histogram scatters with a no-op, to split the cost; ``--stride`` is
``eval.histogram_sample_every`` (the histograms' sample of one (episode, step) pair in K).

    python benchmarks/bench_metrics.py [--batch 8192] [--steps 200] [--repeats 20]
        [--drop markouts fill_rate] [--no-histograms] [--stride K]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxmm.config.sections import EvalConfig
from jaxmm.evaluation import accumulate
from jaxmm.evaluation.accumulate import MetricSpec

HORIZONS = (1, 2, 5, 10, 20, 50)  # the default eval.markout_horizons
ADVERSE = 10
INVENTORY_HALF_WIDTH = 200  # configs/as2008.yaml's max_inventory
DISTANCE_BINS = 24
FILL_PROBABILITY = 0.3
INVENTORY_RANGE = 20
DISTANCE_UNIT = 0.25


def step_entries(steps: int, batch: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    bought, sold = rng.random((steps, batch)) < FILL_PROBABILITY, rng.random((steps, batch)) < FILL_PROBABILITY
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return {"pnl": f32(rng.normal(size=(steps, batch)).cumsum(0)),
            "inventory": f32(rng.integers(-INVENTORY_RANGE, INVENTORY_RANGE, (steps, batch))),
            "mid_change": f32(rng.normal(size=(steps, batch))), "maker_bought": f32(bought), "maker_sold": f32(sold),
            "fill_price_edge": f32(rng.random((steps, batch))), "bid_fill": f32(bought), "ask_fill": f32(sold),
            "bid_distance": f32(rng.random((steps, batch)) * 3), "ask_distance": f32(rng.random((steps, batch)) * 3),
            "bid_quoted": f32(np.ones((steps, batch))), "ask_quoted": f32(np.ones((steps, batch)))}


def ablate(drop: frozenset[str], no_histograms: bool, no_update: bool = False) -> None:
    """Switch parts of the accumulators off, for this process (to split their cost): the metric
    families in ``drop``, the histogram scatters (a no-op), or with ``no_update`` the whole
    per-step update (the identity; the carry is still built and returned)."""
    supported = accumulate.families
    accumulate.families = lambda info: frozenset(supported(info) - drop)
    if no_histograms:
        accumulate._histogram_add = lambda hist, index, weight: hist
    if no_update:
        update = accumulate.update
        accumulate.update = lambda carry, spec, *rest: carry if spec.extended else update(carry, spec, *rest)


def time_scan(entries: dict, spec: MetricSpec, repeats: int) -> float:
    steps, batch = entries["pnl"].shape
    first = {k: v[0] for k, v in entries.items()}

    @jax.jit
    def run(entries):
        def step(carry, inputs):
            t, info = inputs
            read, metrics = carry
            metrics = accumulate.update(metrics, spec, info, t, jnp.ones((batch,), jnp.float32),
                                        jnp.float32(DISTANCE_UNIT))
            return (read + sum(info.values()), metrics), None

        init = (jnp.zeros((batch,), jnp.float32), accumulate.init_carry(spec, batch, first))
        return jax.lax.scan(step, init, (jnp.arange(steps), entries))[0]

    jax.block_until_ready(run(entries))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(run(entries))
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8192)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--drop", nargs="*", default=[], choices=sorted(accumulate.FAMILIES))
    parser.add_argument("--no-histograms", action="store_true")
    parser.add_argument("--stride", type=int, default=EvalConfig().histogram_sample_every)
    args = parser.parse_args(argv)
    drop = frozenset(args.drop)
    ablate(drop, args.no_histograms)
    entries = step_entries(args.steps, args.batch)
    spec = MetricSpec(markout_horizons=HORIZONS, adverse_horizon=ADVERSE, inventory_half_width=INVENTORY_HALF_WIDTH,
                      distance_bins=DISTANCE_BINS, pipeline_length=1, histogram_stride=args.stride)
    per_step = args.steps * args.batch
    read = time_scan(entries, dataclasses.replace(spec, extended=False), args.repeats)
    full = time_scan(entries, spec, args.repeats)
    label = f"drop {sorted(drop) or 'nothing'}" + (", no histograms" if args.no_histograms else "") \
        + f", histogram stride {args.stride}"
    print(f"{label}: read only {read / per_step * 1e9:.2f} ns, with the accumulators {full / per_step * 1e9:.2f} ns "
          f"per environment step; accumulators {(full - read) / per_step * 1e9:.2f} ns "
          f"({args.batch} environments x {args.steps} steps, jax {jax.__version__})")


if __name__ == "__main__":
    main()
