"""Scenario suites: named variations of a base environment (``configs/scenarios/*.yaml``).

A suite file names a base experiment config and a mapping of scenarios; each scenario
changes ``env`` keys of the base, and may switch to other values at a step of the
episode (a regime switch) or drift the latent fair value of the order book::

    base: ../lob.yaml                 # relative to the suite file
    episodes: 2000                    # optional: else eval.episodes of the base
    seed: 1001                        # optional: else eval.seed of the base
    rank_by: sharpe                   # the metric whose worst case ranks the policies
    scenarios:
      calm: {description: the base market}
      volatile: {env: {fair_value_volatility: 0.9}}
      trending: {fair_value_drift: 0.02}            # ticks per step (order book only)
      regime_switch: {switch_step: 250, switch_env: {fair_value_volatility: 0.9}}

Every value is validated by the config's own sections (one line naming the suite file, the
scenario and the key). A scenario applies to any config of the same environment kind, so
each policy is evaluated on the scenario's version of its own environment: baselines on
the suite's base, a trained checkpoint on the environment it was trained on (its action
format) with the scenario's changes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml

from jaxmm.config import load_config
from jaxmm.config.loader import Config, config_from_dict
from jaxmm.config.section import FieldError, Section, build_section
from jaxmm.errors import ConfigError

RANK_METRICS = ("sharpe", "pnl_mean", "reward_mean")  # higher is better
DRIFT_ENVS = ("lob",)  # environments with a latent fair value the drift applies to


@dataclasses.dataclass(frozen=True)
class ScenarioSpec(Section):
    """One scenario: env keys that differ from the base, and how they change in the episode."""

    description: str = ""
    env: dict[str, Any] = dataclasses.field(default_factory=dict)
    switch_step: int | None = None  # from this step (0-based) on, switch_env applies as well
    switch_env: dict[str, Any] = dataclasses.field(default_factory=dict)
    fair_value_drift: float = 0.0  # ticks per step added to the latent fair value (order book)

    def check(self) -> None:
        for key, mapping in (("env", self.env), ("switch_env", self.switch_env)):
            self.require("name" not in mapping, f"{key}.name",
                         "a scenario varies the environment of the base, not its kind")
        if self.switch_step is not None:
            self.require(self.switch_step > 0, "switch_step", f"must be > 0, got {self.switch_step}")
            self.require(bool(self.switch_env), "switch_env", "a switch_step needs the values it switches to")
        else:
            self.require(not self.switch_env, "switch_step", "switch_env needs the step it applies from")


@dataclasses.dataclass(frozen=True)
class SuiteSpec(Section):
    """The suite file."""

    base: str = ""
    description: str = ""
    overrides: tuple[str, ...] = ()  # section.key=value applied to the base first
    episodes: int | None = None
    seed: int | None = None
    rank_by: Literal["sharpe", "pnl_mean", "reward_mean"] = "sharpe"
    scenarios: dict[str, Any] = dataclasses.field(default_factory=dict)

    def check(self) -> None:
        self.require(bool(self.base), "base", "name the base experiment config, e.g. base: ../lob.yaml")
        self.require(bool(self.scenarios), "scenarios", "needs at least one scenario")
        if self.episodes is not None:
            self.require(self.episodes > 0, "episodes", f"must be > 0, got {self.episodes}")


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    spec: ScenarioSpec
    source: str  # for messages: "<suite file> (scenario 'name')"

    @property
    def description(self) -> str:
        return self.spec.description

    def config_for(self, base: Config) -> Config:
        """The base config with this scenario's env values (before any switch)."""
        self._check_drift(base)
        return with_env(base, self.spec.env, self.source)

    def switch_config_for(self, base: Config) -> Config | None:
        """The config in force from ``switch_step`` on, or None without a switch."""
        if self.spec.switch_step is None:
            return None
        if self.spec.switch_step >= base.env.num_steps:
            raise ConfigError(f"{self.source}: switch_step: {self.spec.switch_step} is not inside the "
                              f"episode of env.num_steps={base.env.num_steps} steps")
        return with_env(base, {**self.spec.env, **self.spec.switch_env}, f"{self.source} after the switch")

    def _check_drift(self, base: Config) -> None:
        if self.spec.fair_value_drift and base.env.name not in DRIFT_ENVS:
            raise ConfigError(f"{self.source}: fair_value_drift: the {base.env.name} environment has no "
                              "latent fair value; use env.drift for a trend")


@dataclasses.dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    spec: SuiteSpec
    base: Config
    scenarios: tuple[Scenario, ...]

    @property
    def episodes(self) -> int:
        return self.spec.episodes or self.base.eval.episodes

    @property
    def seed(self) -> int:
        return self.base.eval.seed if self.spec.seed is None else self.spec.seed


def with_env(config: Config, values: Mapping[str, Any], source: str) -> Config:
    """``config`` with ``env`` keys set to ``values``, validated by the env section."""
    if not values:
        return config
    raw = config.to_dict()
    raw["env"] = {**raw["env"], **values}
    return dataclasses.replace(config_from_dict(raw, source), source=config.source)


def _read(path: Path) -> Any:
    if not path.is_file():
        raise ConfigError(f"scenario suite not found: {path}")
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(err).split())}") from None


def _section(cls, raw, source: str, prefix: str = ""):
    try:
        return build_section(cls, raw)
    except FieldError as err:
        key = f"{prefix}{err.key}" if err.key else prefix.rstrip(".") or "top level"
        raise ConfigError(f"{source}: {key}: {err.message}") from None


def load_suite(path: str | Path, overrides=()) -> Suite:
    """Read and validate a suite file; ``overrides`` (section.key=value) apply to its base config."""
    path = Path(path)
    spec = _section(SuiteSpec, _read(path), str(path))
    base_path = (path.parent / spec.base)
    base = load_config(base_path, [*spec.overrides, *overrides])
    scenarios = []
    for name, raw in spec.scenarios.items():
        source = f"{path} (scenario {name!r})"
        scenario = Scenario(str(name), _section(ScenarioSpec, raw, str(path), f"scenarios.{name}."), source)
        scenario.config_for(base)  # validate every value against the base once, up front
        scenario.switch_config_for(base)
        scenarios.append(scenario)
    return Suite(name=path.stem, path=path, spec=spec, base=base, scenarios=tuple(scenarios))
