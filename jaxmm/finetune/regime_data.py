"""Market data with a regime change: a calm market, then a more volatile and more informed one.

    python -m jaxmm.finetune.regime_data [--out data/regime] [--calm-steps 3600] [--new-steps 3600]

One continuous simulation of the order book (the book of the ``lob`` sample,
:func:`jaxmm.data.sample_data.lob_sample_config`: ``configs/lob.yaml`` at 585.00 dollars, one
step per second): the first ``calm_steps`` steps with the calm flow, then, from the book the calm
regime left, ``new_steps`` steps with :data:`NEW_REGIME`:

* calm: 5 % of market orders informed, fair-value volatility 0.3 ticks per step (the sample's);
* new regime: 30 % informed, fair-value volatility 1.0 tick per step (the fair value the
  informed traders know moves more than three times as fast, so the mid is more volatile and
  quotes near the touch are picked off more often).

Both regimes share every static setting (slots, window, sizes), so step ``k``'s random numbers
are drawn the same way throughout (keyed by ``k``, as in the samples). The files are written
through the sample writers (:func:`jaxmm.data.sample_data.write_tape`): ``regime_message_10.csv.gz``
and ``regime_orderbook_10.csv.gz`` (LOBSTER), ``regime_l2.csv.gz`` and ``regime_trades.csv.gz``,
with ``manifest.json`` listing the parameters. The regime changes ``calm_steps + 1`` seconds after
the first row (the first second submits the initial book).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

NAME = "regime"
DEFAULT_DIR = Path("data/regime")
CALM_STEPS = NEW_STEPS = 3600
SEED = 21
STEP_SECONDS = 1.0
NEW_REGIME = {"informed_share": 0.3, "fair_value_volatility": 1.0}


def regime_configs():
    """(calm, new regime) ``LobEnvConfig`` sections."""
    from jaxmm.data.sample_data import lob_sample_config

    calm = lob_sample_config()
    return calm, dataclasses.replace(calm, **NEW_REGIME)


def regime_stream(calm_steps: int = CALM_STEPS, new_steps: int = NEW_STEPS, seed: int = SEED):
    """The event stream of both regimes, the second continuing from the book the first left."""
    # The recorder's chunked simulation and stream assembly, run once per regime on one carried book.
    from jaxmm.data import recorder
    from jaxmm.envs.lob.build import flow_params

    calm, new = regime_configs()
    state = recorder.warmed_book(calm, flow_params(calm))
    key = jax.random.key(seed)
    parts = []
    for first, cfg, steps in ((0, calm, calm_steps), (calm_steps, new, new_steps)):
        keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, first + jnp.arange(steps))
        out, state = recorder._simulate_in_chunks(*state, flow_params(cfg), keys, cfg)
        parts.append(out)
    rows, informed, _, start = jax.tree.map(lambda *xs: np.concatenate(xs), *parts)
    stream, _ = recorder._stream(calm, rows, informed, start, calm_steps + new_steps, STEP_SECONDS, 0.0)
    return stream


def write_regime_data(directory: str | Path = DEFAULT_DIR, calm_steps: int = CALM_STEPS,
                      new_steps: int = NEW_STEPS, seed: int = SEED) -> dict:
    from jaxmm.data.sample_data import LOB_CONFIG, LOB_OVERRIDES, write_tape

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    calm, _ = regime_configs()
    manifest = {"step_seconds": STEP_SECONDS, "calm_steps": calm_steps, "new_steps": new_steps, "seed": seed,
                "regime_change_seconds_after_first_row": calm_steps + 1,
                "calm": {"config": LOB_CONFIG, "overrides": list(LOB_OVERRIDES),
                         "informed_share": calm.informed_share, "fair_value_volatility": calm.fair_value_volatility},
                "new_regime": NEW_REGIME,
                "files": write_tape(regime_stream(calm_steps, new_steps, seed), NAME, directory)}
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DEFAULT_DIR))
    parser.add_argument("--calm-steps", type=int, default=CALM_STEPS)
    parser.add_argument("--new-steps", type=int, default=NEW_STEPS)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    manifest = write_regime_data(args.out, args.calm_steps, args.new_steps, args.seed)
    for name, rows in manifest["files"].items():
        print(f"wrote {Path(args.out) / name} ({rows:,} rows)")


if __name__ == "__main__":
    main()
