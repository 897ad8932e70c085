"""Regenerate the learning and throughput numbers that README.md and BENCHMARKS.md state.

    python benchmarks/reproduce.py                       # every claim (hours on a 2-core CPU)
    python benchmarks/reproduce.py --claim ppo_cj_small  # one (repeat --claim for several)
    python benchmarks/reproduce.py --list                # the claims and what each runs

Each claim writes ``OUT/<claim>.md`` (machine, date, command, seeds, then the table) and
``OUT/<claim>.json``; ``OUT/summary.md`` collects what ran. Learning claims train the
config's seeds as one sweep and report every seed, the mean ± standard error over seeds
and the worst seed (``jaxmm.claims``); a learning claim that misses its bar is written all
the same and makes the exit status 1. Throughput and reproduction claims run the command
that BENCHMARKS.md names for them and keep its output.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import host  # noqa: E402  (benchmarks/host.py, on the path as this script's folder)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# claim -> the command BENCHMARKS.md (or README.md) shows for it, run from the repository root.
COMMAND_CLAIMS: dict[str, str] = {
    "model_env": "python benchmarks/bench_model.py",
    "lob_env": "python benchmarks/bench_lob.py --batches 1 64 1024 8192 16384 --steps 200 --repeats 5",
    "train_throughput": "python benchmarks/bench_train.py",
    "sweep_vectorisation": "python benchmarks/bench_sweep.py --steps 500000",
    "eval_overhead": "python benchmarks/bench_eval.py",
    "data_scale": "python benchmarks/bench_data.py --rows 5000000",
    "as2008": "python -m jaxmm evaluate --config configs/as2008.yaml --policy avellaneda_stoikov --episodes 1000",
    "as2008_symmetric": "python -m jaxmm evaluate --config configs/as2008.yaml --policy symmetric --episodes 1000",
    "cjp2015": "python -m jaxmm evaluate --config configs/cjp2015.yaml --episodes 10000",
    "lob_scenarios": "python -m jaxmm evaluate --scenarios configs/scenarios/lob_suite.yaml "
                     "--policy checkpoint:{runs}/ppo_lob/run#member=0 --policy checkpoint:{runs}/dqn_lob/run#member=0 "
                     "--policy inventory_capped --policy fixed_spread --policy avellaneda_stoikov --policy glft --policy symmetric "
                     "--report {out}/lob_scenarios",
}
NEEDS = {"lob_scenarios": ("ppo_lob", "dqn_lob")}  # learning claims whose runs a command uses


def machine() -> str:
    import jax

    cpu = host.cpu_model() or platform.processor() or platform.machine()
    devices = ", ".join(sorted({d.device_kind for d in jax.devices()}))
    return (f"{cpu}, {os.cpu_count()} cores; jax {jax.__version__} on {jax.default_backend()} ({devices}); "
            f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f} at the start")


def header(claim: str, command: str, seeds: str) -> str:
    now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    return (f"# {claim}\n\n- machine: {machine()}\n- date: {now}\n- command: `{command}`\n"
            f"- seeds: {seeds}\n\n")


def run_learning(name: str, out: Path, runs: Path, seeds: tuple[int, ...]) -> dict:
    from jaxmm import claims

    result = claims.LEARNING_CLAIMS[name](runs / name / "run", seeds)
    command = f"python benchmarks/reproduce.py --claim {name}"
    text = header(name, command, ", ".join(map(str, seeds))) + f"Bar: {result.bar}.\n\n{result.table}\n"
    if result.failures:
        text += "\nMissed:\n" + "".join(f"- {f}\n" for f in result.failures)
    text += f"\n{result.seconds:.0f} s (training and evaluation).\n"
    (out / f"{name}.md").write_text(text)
    mean, se, worst = claims.mean_se_worst(result.values)
    record = {"claim": name, "config": result.config, "seeds": list(seeds), "values": result.values,
              "mean": mean, "se": se, "worst": worst, "passed": result.passed, "failures": result.failures,
              "seconds": result.seconds}
    (out / f"{name}.json").write_text(json.dumps(record, indent=2))
    return record


def run_command(name: str, out: Path, runs: Path) -> dict:
    command = COMMAND_CLAIMS[name].format(runs=runs, out=out)
    start = time.perf_counter()
    proc = subprocess.run(shlex.split(command), cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    body = proc.stdout + (f"\n(stderr)\n{proc.stderr}" if proc.returncode else "")
    text = header(name, command, "as in the command") + f"```\n{body.strip()}\n```\n\n{seconds:.0f} s, exit {proc.returncode}\n"
    (out / f"{name}.md").write_text(text)
    record = {"claim": name, "command": command, "returncode": proc.returncode, "seconds": seconds}
    (out / f"{name}.json").write_text(json.dumps(record, indent=2))
    return record


def main(argv=None) -> int:
    from jaxmm.claims import LEARNING_CLAIMS, SEEDS

    every = list(LEARNING_CLAIMS) + list(COMMAND_CLAIMS)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claim", action="append", choices=every, help="a claim to regenerate (default: all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS), help="training seeds (default 0 1 2)")
    parser.add_argument("--out", default="results/reproduce", help="where the tables go")
    parser.add_argument("--runs", help="where the training runs go (default: a temporary directory)")
    parser.add_argument("--list", action="store_true", help="list the claims and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name in LEARNING_CLAIMS:
            print(f"{name:22s} train and evaluate over --seeds (jaxmm.claims.{name})")
        for name, command in COMMAND_CLAIMS.items():
            print(f"{name:22s} {command}")
        return 0
    if len(args.seeds) < 2:
        parser.error("--seeds: at least two training seeds, for a standard error")
    selected = args.claim or every
    for name in list(selected):
        for needed in NEEDS.get(name, ()):
            if needed not in selected:
                selected.insert(selected.index(name), needed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = Path(args.runs) if args.runs else Path(tempfile.mkdtemp(prefix="jaxmm-reproduce-"))
    records = []
    for name in selected:
        print(f"{name} ...", flush=True)
        seeds = tuple(args.seeds)
        record = run_learning(name, out, runs, seeds) if name in LEARNING_CLAIMS else run_command(name, out, runs)
        records.append(record)
        status = ("passed" if record["passed"] else "MISSED") if "passed" in record else f"exit {record['returncode']}"
        print(f"{name}: {status}, {record['seconds']:.0f} s -> {out / (name + '.md')}", flush=True)
    lines = ["| claim | result | seconds |", "|---|---|---:|"]
    for r in records:
        if "passed" in r:
            result = f"{r['mean']:.4g} ± {r['se']:.2g} (worst {r['worst']:.4g}), {'passed' if r['passed'] else 'missed'}"
        else:
            result = f"exit {r['returncode']}"
        lines.append(f"| {r['claim']} | {result} | {r['seconds']:.0f} |")
    (out / "summary.md").write_text(header("summary", "python benchmarks/reproduce.py " + " ".join(argv or sys.argv[1:]),
                                           ", ".join(map(str, args.seeds))) + "\n".join(lines) + "\n")
    print("\n".join(lines))
    failed = [r for r in records if not r.get("passed", r.get("returncode") == 0)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
