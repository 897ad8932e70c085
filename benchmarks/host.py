"""What the benchmark scripts record about the machine they ran on (imported as ``host`` by the
scripts in this folder, which Python puts on the path when one of them is run)."""

from __future__ import annotations


def cpu_model() -> str | None:
    """The CPU's model name from /proc/cpuinfo, or None where there is none (not Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None
