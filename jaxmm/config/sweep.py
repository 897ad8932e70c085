"""The ``sweep`` section of an experiment file: axes of values, combined as a product or zipped.

```yaml
sweep:
  combine: product          # or zip (axes of equal length, taken side by side)
  seed: 0                   # draws of the random axes
  axes:
    - {key: reward.running_inventory_penalty, log: [2.0e-5, 2.0e-3], num: 32}
    - {key: ppo.learning_rate, linear: [1.0e-4, 1.0e-3], num: 4}
    - {key: train.seed, values: [0, 1]}
    - {key: ppo.ent_coef, log_uniform: [1.0e-4, 1.0e-2], num: 8}   # random samples
    - {key: env.volatility, uniform: [0.005, 0.02], num: 8}
```

Each axis has a dotted ``key`` and exactly one of ``values`` (explicit list), ``linear``
or ``log`` ([low, high] with ``num`` evenly spaced points, ends included) or
``uniform`` / ``log_uniform`` ([low, high] with ``num`` random draws from ``seed``).
No axes: a single run.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any, Literal, Mapping

import numpy as np

from jaxmm.config.section import FieldError, Section

GRID_KINDS = ("linear", "log")
RANDOM_KINDS = ("uniform", "log_uniform")
AXIS_KINDS = ("values", *GRID_KINDS, *RANDOM_KINDS)
AXIS_KEYS = ("key", "num", *AXIS_KINDS)


@dataclasses.dataclass(frozen=True)
class Axis:
    key: str
    values: tuple[Any, ...]


@dataclasses.dataclass(frozen=True)
class SweepConfig(Section):
    """Members of a sweep: every combination (or the zip) of the axes' values."""

    axes: tuple[dict[str, Any], ...] = ()
    combine: Literal["product", "zip"] = "product"
    seed: int = 0  # draws of the uniform / log_uniform axes

    def check(self) -> None:
        axes = self.parsed_axes()
        keys = [a.key for a in axes]
        for i, key in enumerate(keys):
            self.require(key not in keys[:i], f"axes[{i}].key", f"{key} is swept twice")
        if self.combine == "zip" and axes:
            lengths = {a.key: len(a.values) for a in axes}
            self.require(len(set(lengths.values())) == 1, "combine",
                         "zip needs axes of one length, got "
                         + ", ".join(f"{k}: {n}" for k, n in lengths.items()))

    def parsed_axes(self) -> tuple[Axis, ...]:
        return tuple(parse_axis(raw, i, self.seed) for i, raw in enumerate(self.axes))

    def members(self) -> list[dict[str, Any]]:
        """One ``{dotted key: value}`` mapping per member, in order (the last axis varies fastest)."""
        axes = self.parsed_axes()
        if not axes:
            return [{}]
        columns = [a.values for a in axes]
        rows = zip(*columns) if self.combine == "zip" else itertools.product(*columns)
        return [dict(zip((a.key for a in axes), row)) for row in rows]


def _bounds(raw: Mapping, kind: str, where: str) -> tuple[float, float]:
    value = raw[kind]
    if not (isinstance(value, (list, tuple)) and len(value) == 2):
        raise FieldError(f"{where}.{kind}", f"expected [low, high], got {value!r}")
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise FieldError(f"{where}.{kind}", f"expected two numbers, got {value!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise FieldError(f"{where}.{kind}", f"expected finite low <= high, got {value!r}")
    if kind.startswith("log") and low <= 0:
        raise FieldError(f"{where}.{kind}", f"a log scale needs low > 0, got {low}")
    return low, high


def _count(raw: Mapping, where: str) -> int:
    num = raw.get("num")
    if isinstance(num, bool) or not isinstance(num, int):
        raise FieldError(f"{where}.num", f"expected a whole number of points, got {num!r}")
    if num < 1:
        raise FieldError(f"{where}.num", f"the grid is empty: num must be >= 1, got {num}")
    return num


def parse_axis(raw: Any, index: int, seed: int) -> Axis:
    where = f"axes[{index}]"
    if not isinstance(raw, Mapping):
        raise FieldError(where, f"expected a mapping like {{key: reward.pnl, values: [0.5, 1.0]}}, got {raw!r}")
    unknown = sorted(set(raw) - set(AXIS_KEYS))
    if unknown:
        raise FieldError(f"{where}.{unknown[0]}", f"unknown axis setting; valid: {', '.join(AXIS_KEYS)}")
    key = raw.get("key")
    if not isinstance(key, str) or key.count(".") != 1 or not all(key.split(".")):
        raise FieldError(f"{where}.key", f"expected a dotted key like reward.pnl, got {key!r}")
    kinds = [k for k in AXIS_KINDS if k in raw]
    if len(kinds) != 1:
        raise FieldError(where, f"{key}: give exactly one of {', '.join(AXIS_KINDS)}, got "
                         f"{', '.join(kinds) or 'none'}")
    kind = kinds[0]
    if kind == "values":
        values = raw["values"]
        if not isinstance(values, (list, tuple)):
            raise FieldError(f"{where}.values", f"{key}: expected a list, got {values!r}")
        if not values:
            raise FieldError(f"{where}.values", f"{key}: the list of values is empty")
        if "num" in raw:
            raise FieldError(f"{where}.num", f"{key}: num goes with a grid or random axis, not values")
        return Axis(key, tuple(values))
    low, high = _bounds(raw, kind, where)
    num = _count(raw, where)
    if kind == "linear":
        points = np.linspace(low, high, num)
    elif kind == "log":
        points = np.geomspace(low, high, num)
    else:
        rng = np.random.default_rng([seed, index])
        if kind == "uniform":
            points = rng.uniform(low, high, num)
        else:
            points = np.exp(rng.uniform(math.log(low), math.log(high), num))
    return Axis(key, tuple(float(v) for v in points))
