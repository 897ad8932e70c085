"""Write the sample market data of data/samples/ again (see jaxmm/data/sample_data.py for what it is).

    python scripts/make_sample_data.py [--out data/samples] [--steps 3600]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jaxmm.data.sample_data import SAMPLE_DIR, SAMPLE_STEPS, write_samples  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(SAMPLE_DIR), help="output directory (default: data/samples)")
    parser.add_argument("--steps", type=int, default=SAMPLE_STEPS, help="simulated seconds per market")
    args = parser.parse_args()
    manifest = write_samples(args.out, args.steps)
    for market in ("lob", "model"):
        for name, rows in manifest[market]["files"].items():
            print(f"wrote {Path(args.out) / name} ({rows:,} rows)")


if __name__ == "__main__":
    main()
