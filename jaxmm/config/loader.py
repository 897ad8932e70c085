"""Load a YAML experiment file, apply ``section.key=value`` overrides, validate.

Every problem becomes a single :class:`~jaxmm.errors.ConfigError` line that
names the source (file or command line) and the dotted key.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from jaxmm.config.reward import RewardConfig
from jaxmm.config.section import FieldError, Section, build_section, suggest
from jaxmm.config.sections import EvalConfig, PolicyConfig, TrainConfig
from jaxmm.config.sweep import SweepConfig
from jaxmm.errors import ConfigError
from jaxmm.finetune.config import FinetuneConfig

# env.name -> "module:Class" of its config section (imported on demand).
ENV_SECTIONS: dict[str, str] = {
    "model": "jaxmm.envs.model_config:ModelEnvConfig",
    "lob": "jaxmm.envs.lob.config:LobEnvConfig",
    "replay": "jaxmm.envs.replay.config:ReplayEnvConfig",
}
# Sections with fixed classes; learner sections are looked up in LEARNER_SECTIONS.
FIXED_SECTIONS: dict[str, type[Section]] = {
    "policy": PolicyConfig,
    "eval": EvalConfig,
    "train": TrainConfig,
    "sweep": SweepConfig,
    "finetune": FinetuneConfig,
}
# Learner hyperparameter sections, "module:Class" (imported on demand).
LEARNER_SECTIONS: dict[str, str] = {
    "ppo": "jaxmm.agents.ppo_config:PPOConfig",
    "dqn": "jaxmm.agents.dqn_config:DQNConfig",
}
ALL_SECTIONS = ("env", "reward", *FIXED_SECTIONS, *LEARNER_SECTIONS)


@dataclasses.dataclass(frozen=True)
class Config:
    """A complete, validated experiment configuration."""

    env: Section
    reward: RewardConfig
    policy: PolicyConfig
    eval: EvalConfig
    train: TrainConfig
    sweep: SweepConfig
    finetune: FinetuneConfig
    learners: Mapping[str, Section]
    source: str = "<defaults>"

    def learner(self, name: str | None = None) -> Section:
        return self.learners[name or self.train.algo]

    def to_dict(self) -> dict[str, Any]:
        out = {"env": self.env.to_dict(), "reward": self.reward.to_dict()}
        out.update({name: getattr(self, name).to_dict() for name in FIXED_SECTIONS})
        out.update({name: section.to_dict() for name, section in self.learners.items()})
        return out

    def replace(self, overrides: Sequence[str], source: str = "command line") -> "Config":
        """A new config with dotted overrides applied (validated again)."""
        raw = self.to_dict()
        apply_overrides(raw, overrides)
        return config_from_dict(raw, source)


def _yaml_problem(err: yaml.YAMLError) -> str:
    """A one-line description of a YAML syntax error with its position."""
    mark = getattr(err, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + " ".join(str(getattr(err, "problem", None) or err).split())


def _import(spec: str) -> Any:
    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


def env_section_class(name: str) -> type[Section]:
    if name not in ENV_SECTIONS:
        raise FieldError("name", f"unknown environment {name!r}" + suggest(name, ENV_SECTIONS)
                         + f"; available: {', '.join(ENV_SECTIONS)}")
    return _import(ENV_SECTIONS[name])


def parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form section.key=value")
    path, value = text.split("=", 1)
    keys = path.strip().split(".")
    if len(keys) < 2 or not all(keys):
        raise ConfigError(f"override {text!r}: the key must be dotted, like env.volatility=2.0")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError as err:
        raise ConfigError(f"override {text!r}: cannot read the value: {_yaml_problem(err)}") from None
    return keys, parsed


def apply_overrides(raw: dict, overrides: Sequence[str]) -> None:
    """Set dotted keys in a raw nested mapping (validation happens afterwards)."""
    for text in overrides:
        keys, value = parse_override(text)
        if keys[0] not in ALL_SECTIONS:
            raise ConfigError(f"override {text!r}: unknown section {keys[0]!r}"
                              + suggest(keys[0], ALL_SECTIONS)
                              + f"; sections: {', '.join(ALL_SECTIONS)}")
        node = raw
        for key in keys[:-1]:
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"override {text!r}: {key!r} is not a section")
            node = child
        node[keys[-1]] = value


def config_from_dict(raw: Mapping[str, Any] | None, source: str = "<dict>") -> Config:
    """Validate a raw nested mapping into a :class:`Config`."""
    raw = {} if raw is None else raw
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a mapping of sections at the top level")
    for name in raw:
        if name not in ALL_SECTIONS:
            raise ConfigError(f"{source}: unknown section {name!r}" + suggest(str(name), ALL_SECTIONS)
                              + f"; sections: {', '.join(ALL_SECTIONS)}")

    def build(section: str, fn):
        try:
            return fn()
        except FieldError as err:
            key = f"{section}.{err.key}" if err.key else section
            raise ConfigError(f"{source}: {key}: {err.message}") from None

    env_raw = raw.get("env") or {}
    if not isinstance(env_raw, Mapping):
        raise ConfigError(f"{source}: env: expected a mapping of keys to values, got {env_raw!r}")
    env_cls = build("env", lambda: env_section_class(str(env_raw.get("name", "model"))))
    env = build("env", lambda: build_section(env_cls, env_raw))
    reward = build("reward", lambda: RewardConfig.build(
        raw.get("reward"), env_cls.reward_components, env_cls.reward_defaults))
    fixed = {name: build(name, lambda n=name, c=cls: build_section(c, raw.get(n)))
             for name, cls in FIXED_SECTIONS.items()}
    learners = {name: build(name, lambda n=name, s=spec: build_section(_import(s), raw.get(n)))
                for name, spec in LEARNER_SECTIONS.items()}
    config = Config(env=env, reward=reward, learners=learners, source=source, **fixed)
    return config


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> Config:
    """Read a YAML file (or the defaults when ``path`` is None) and apply overrides."""
    raw: dict = {}
    source = "<defaults>"
    if path is not None:
        path = Path(path)
        source = str(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML: {_yaml_problem(err)}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    raw = copy.deepcopy(raw)
    if overrides:
        apply_overrides(raw, overrides)
        source = f"{source} (with overrides)"
    return config_from_dict(raw, source)
