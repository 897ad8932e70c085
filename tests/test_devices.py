"""Several devices (8 CPU devices in a subprocess): sharded runs compute what one device computes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jaxmm.errors import ConfigError
from jaxmm.sweeps import placement

ROOT = Path(__file__).resolve().parents[1]
TINY = ["train.chunk_env_steps=512", "ppo.num_envs=16", "ppo.rollout_len=32", "ppo.num_minibatches=2",
        "ppo.num_epochs=2", "ppo.hidden_sizes=[8]", "env.num_steps=20"]
# Split runs reduce in another order (an all-reduce of per-device partial sums): float32
# rounding, compounded over two chunks of Adam updates, stays below this relative difference.
SPLIT_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def eight_devices():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-m", "tests.multidevice_run", *TINY], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_members_sharded_over_eight_devices_match_one_device(eight_devices):
    assert eight_devices["devices"] == 8 and eight_devices["auto_sweep"] == "members"
    # Each device trains whole members: the same computation, so the same numbers.
    assert eight_devices["members_params"] <= SPLIT_TOLERANCE
    assert eight_devices["members_metrics"] <= SPLIT_TOLERANCE


def test_one_policy_split_over_eight_devices_learns_the_same(eight_devices):
    assert eight_devices["auto_single"] == "envs"
    assert eight_devices["envs_params"] <= SPLIT_TOLERANCE
    assert eight_devices["envs_metrics"] <= SPLIT_TOLERANCE
    assert eight_devices["compiles"] == [1, 1]  # a later chunk never meets a new layout


def test_sharding_that_does_not_divide_is_one_clear_line():
    with pytest.raises(ConfigError, match="members needs a member count divisible by the 8 devices, got 6"):
        placement.resolve_mode("members", 6, 16, devices=8)
    with pytest.raises(ConfigError, match="envs needs num_envs divisible by the 8 devices, got 12"):
        placement.resolve_mode("envs", 1, 12, devices=8)
    assert placement.resolve_mode("auto", 6, 12, devices=8) == "none"
    assert placement.resolve_mode("auto", 64, 16, devices=1) == "none"
