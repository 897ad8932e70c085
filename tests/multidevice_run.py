"""Train a tiny sweep and a tiny single policy on 8 CPU devices with and without sharding.

Run as a script with XLA_FLAGS=--xla_force_host_platform_device_count=8 (the test does);
prints JSON: the largest differences between the sharded and unsharded runs.
"""

import json
import sys

import jax
import numpy as np

from jaxmm.config import load_config
from jaxmm.population import build_population
from jaxmm.sweeps import placement

CHUNKS = 2


def train(config, mode):
    population = build_population(config)
    state = population.init()
    shardings = placement.state_shardings(state, mode, population.learner.env_axis_fields)
    state = placement.place(state, shardings)
    run = placement.jit_chunk(population.chunk, shardings)
    for _ in range(CHUNKS):
        state, metrics = run(state)
    return jax.device_get(state), jax.device_get(metrics), run._cache_size()


def largest_difference(a, b) -> float:
    return max(float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)) /
                        (1.0 + np.abs(np.asarray(y, np.float64)))))
               for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def main(overrides):
    sweep = load_config("configs/ppo_cj_small.yaml", [*overrides, "sweep.axes=[{key: reward.running_inventory_penalty, "
                        "values: [1.0e-4, 3.0e-4, 1.0e-3, 3.0e-3]}, {key: train.seed, values: [0, 1]}]"])
    single = load_config("configs/ppo_cj_small.yaml", overrides)
    plain_sweep, plain_metrics, _ = train(sweep, "none")
    split_sweep, split_metrics, sweep_compiles = train(sweep, "members")
    plain_single, plain_single_metrics, _ = train(single, "none")
    split_single, split_single_metrics, single_compiles = train(single, "envs")
    print(json.dumps({
        "devices": jax.device_count(),
        "members_params": largest_difference(split_sweep.params, plain_sweep.params),
        "members_metrics": largest_difference(split_metrics, plain_metrics),
        "envs_params": largest_difference(split_single.params, plain_single.params),
        "envs_metrics": largest_difference(split_single_metrics, plain_single_metrics),
        "compiles": [sweep_compiles, single_compiles],
        "auto_sweep": placement.resolve_mode("auto", 8, 16),
        "auto_single": placement.resolve_mode("auto", 1, 16),
    }))


if __name__ == "__main__":
    main(sys.argv[1:])
