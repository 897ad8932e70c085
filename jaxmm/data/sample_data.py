"""The sample data in ``data/samples/``: what it is, and the functions that write it again.

Two markets, each written through the package's writers as a LOBSTER message
file and order-book file (10 levels) and as exchange-style L2 updates and
trades (gzipped CSV):

* ``lob_*``: the order-book simulator with the book of ``configs/lob.yaml``
  (tick 0.01, flow per step: 1.5 limit orders a side at power-law distance
  exponent 0.6 up to 12 ticks, cancellations 0.004 per resting unit, 0.4
  market orders of which 5 % informed, geometric sizes of mean 3, fair-value
  volatility 0.3 ticks), at a real price level (tick 0 at 585.00 dollars, so
  LOBSTER prices are around 5,850,000), one step per second, seed
  :data:`LOB_SEED`, :data:`SAMPLE_STEPS` steps.
* ``model_*``: the model market of :mod:`jaxmm.data.model_market` with
  :data:`MODEL_PARAMETERS` (sigma, drift, A, k in dollars and seconds).

Layout of both (see :mod:`jaxmm.data.export`): the initial book is submitted at
09:30:00 (LOBSTER) / 2024-01-02 14:30:00 UTC (L2), the flow of step ``k``
follows at ``k + 1`` seconds. ``manifest.json`` lists the parameters and files.
``python scripts/make_sample_data.py`` writes the files again (identical rows:
the simulations are seeded, and step ``k``'s random numbers do not depend on
the number of steps).
"""

from __future__ import annotations

import json
from pathlib import Path

from jaxmm.data.export import DEFAULT_LEVELS, export_stream
from jaxmm.data.exchange import write_l2_updates, write_trades
from jaxmm.data.lobster import write_lobster_book, write_lobster_messages

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "samples"
SAMPLE_STEPS = 3600
STEP_SECONDS = 1.0
LOB_CONFIG = "configs/lob.yaml"
LOB_OVERRIDES = ("env.reference_price=585.0",)
LOB_SEED = 12
MODEL_SEED = 7
MODEL_PARAMETERS = {"volatility": 0.02, "drift": 0.0, "arrival_rate": 0.5, "fill_decay": 50.0, "tick": 0.01,
                    "price_origin": 585.0}
FILES = {"messages": "{name}_message_{levels}.csv.gz", "book": "{name}_orderbook_{levels}.csv.gz",
         "l2": "{name}_l2.csv.gz", "trades": "{name}_trades.csv.gz"}


def sample_path(name: str, kind: str, directory: str | Path = SAMPLE_DIR, levels: int = DEFAULT_LEVELS) -> Path:
    """The path of one sample file: ``name`` is ``lob`` or ``model``, ``kind`` a key of :data:`FILES`."""
    return Path(directory) / FILES[kind].format(name=name, levels=levels)


def lob_sample_config():
    """The ``LobEnvConfig`` the ``lob`` sample is simulated with."""
    from jaxmm.config import load_config

    root = Path(__file__).resolve().parents[2]
    return load_config(root / LOB_CONFIG, list(LOB_OVERRIDES)).env


def lob_sample_stream(steps: int = SAMPLE_STEPS):
    from jaxmm.data.recorder import simulate_events

    stream, _ = simulate_events(lob_sample_config(), steps, seed=LOB_SEED, step_seconds=STEP_SECONDS)
    return stream


def model_sample_stream(steps: int = SAMPLE_STEPS):
    from jaxmm.data.model_market import simulate_model_events

    return simulate_model_events(**MODEL_PARAMETERS, steps=steps, step_seconds=STEP_SECONDS, seed=MODEL_SEED)


def write_tape(stream, name: str, directory: str | Path) -> dict[str, int]:
    """Export ``stream`` and write its four files; returns rows written per file name."""
    tape = export_stream(stream)
    written = {}
    for kind, writer, frame in (("messages", write_lobster_messages, tape.messages),
                                ("book", write_lobster_book, tape.book), ("l2", write_l2_updates, tape.l2),
                                ("trades", write_trades, tape.trades)):
        path = sample_path(name, kind, directory)
        written[path.name] = writer(path, frame)
    return written


def write_samples(directory: str | Path = SAMPLE_DIR, steps: int = SAMPLE_STEPS) -> dict:
    """Write both samples and ``manifest.json`` to ``directory``; returns the manifest."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = {
        "step_seconds": STEP_SECONDS, "steps": steps,
        "lob": {"config": LOB_CONFIG, "overrides": list(LOB_OVERRIDES), "seed": LOB_SEED,
                "files": write_tape(lob_sample_stream(steps), "lob", directory)},
        "model": {"parameters": MODEL_PARAMETERS, "seed": MODEL_SEED,
                  "files": write_tape(model_sample_stream(steps), "model", directory)},
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
