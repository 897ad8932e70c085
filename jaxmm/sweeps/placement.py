"""Where the stacked training state lives when JAX sees several devices.

* ``members``: the member axis is split across devices (``NamedSharding`` over a 1-D
  mesh); each device trains its own members, nothing is communicated.
* ``envs``: one policy (or a few) whose environment batch is split across devices; the
  network, optimiser and normaliser are replicated. The program is the single-device
  program: XLA partitions it and averages the gradients over the devices with an
  all-reduce, so a split run computes what one device computes, up to reduction order.
* ``none``: everything on the default device.

``auto`` picks ``members`` for a sweep whose member count the devices divide, else
``envs`` when they divide ``num_envs``, else ``none``. Across several hosts
(``jax.distributed.initialize()``), the mesh spans every process's devices and each
host holds its shards; metrics are gathered to every host at chunk boundaries.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxmm.errors import ConfigError

DEVICE_AXIS = "devices"
MODES = ("auto", "members", "envs", "none")


def resolve_mode(mode: str, members: int, num_envs: int, devices: int | None = None) -> str:
    devices = jax.device_count() if devices is None else devices
    if mode == "auto":
        if devices == 1:
            return "none"
        if members > 1 and members % devices == 0:
            return "members"
        return "envs" if num_envs % devices == 0 else "none"
    if mode == "members" and members % devices:
        raise ConfigError(f"train.sharding: members needs a member count divisible by the {devices} "
                          f"devices, got {members} members")
    if mode == "envs" and num_envs % devices:
        raise ConfigError(f"train.sharding: envs needs num_envs divisible by the {devices} devices, "
                          f"got {num_envs}")
    return mode


def mesh() -> Mesh:
    return Mesh(np.asarray(jax.devices()), (DEVICE_AXIS,))


def state_shardings(state: Any, mode: str, env_axis_fields: tuple[str, ...]) -> Any:
    """A pytree of shardings matching ``state`` (leaves with a leading member axis), or None."""
    if mode == "none":
        return None
    devices = mesh()
    split_members = NamedSharding(devices, PartitionSpec(DEVICE_AXIS))
    replicated = NamedSharding(devices, PartitionSpec())
    if mode == "members":
        return jax.tree.map(lambda _: split_members, state)
    split_envs = NamedSharding(devices, PartitionSpec(None, DEVICE_AXIS))
    fields = {name: (split_envs if name in env_axis_fields else replicated)
              for name in state.__dataclass_fields__}
    return state.replace(**{name: jax.tree.map(lambda _, s=sharding: s, getattr(state, name))
                            for name, sharding in fields.items()})


def replicated() -> NamedSharding:
    return NamedSharding(mesh(), PartitionSpec())


def place(state: Any, shardings: Any) -> Any:
    """``state`` laid out as ``shardings`` says (every host passes the same full values)."""
    if shardings is None:
        return state

    def put(x, sharding):
        host = np.asarray(x)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(put, state, shardings)


def to_host(tree: Any) -> Any:
    """NumPy copies of (possibly sharded, possibly multi-host) arrays."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)


def jit_chunk(chunk, shardings: Any):
    """``jax.jit(chunk)`` with the state's layout fixed on the way in and out, so a later
    chunk never sees a new layout (and never recompiles)."""
    if shardings is None:
        return jax.jit(chunk)
    return jax.jit(chunk, in_shardings=(shardings,), out_shardings=(shardings, replicated()))
