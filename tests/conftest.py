"""Test-session settings.

Many tests build the same environment or learner and compile identical programs
in fresh jitted functions (each training run, each resume). A persistent XLA
compilation cache in a temporary directory, set before anything compiles, turns
those repeats into cache hits. It changes no numerics: a cache hit loads the
same compiled program.

The default run (the marker expression ``pyproject.toml``'s addopts set) also
compiles with XLA's backend optimisation level 0. Its tests are short programs whose time is
mostly compiling, and level 0 halves the compile of an order-book step (BENCHMARKS, Test
suite). The acceptance and slow runs, the benchmarks and every command keep XLA's defaults.
The flag must be in the environment before the first compile; JAX reads it when it starts
its backend, not at import.
"""

import os
import shutil
import tempfile

import jax

_CACHE_DIR = tempfile.mkdtemp(prefix="jaxmm-xla-cache-")
FAST_COMPILE = "--xla_backend_optimization_level=0"


def _default_markexpr(config) -> str:
    """The marker expression that ``pyproject.toml``'s addopts give the default run."""
    args = config.getini("addopts")
    return args[args.index("-m") + 1] if "-m" in args[:-1] else ""


def pytest_configure(config):
    flags = os.environ.get("XLA_FLAGS", "")
    if config.option.markexpr == _default_markexpr(config) and FAST_COMPILE not in flags.split():
        os.environ["XLA_FLAGS"] = f"{flags} {FAST_COMPILE}".strip()  # xdist workers inherit it
    jax.config.update("jax_compilation_cache_dir", _CACHE_DIR)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pytest_unconfigure(config):
    shutil.rmtree(_CACHE_DIR, ignore_errors=True)
