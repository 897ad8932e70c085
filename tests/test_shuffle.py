"""The packed-key permutation: always a permutation, and uniform (chi-square tests)."""

import itertools

import jax
import numpy as np
from hypothesis import given, settings, strategies as st
from scipy import stats

from jaxmm.agents.shuffle import num_rounds, permutation

P_FLOOR = 1e-4  # a uniform sampler fails one of these tests with probability about 1e-4


@settings(deadline=None, max_examples=25)
@given(n=st.integers(1, 5000), seed=st.integers(0, 2**31 - 1))
def test_is_a_permutation(n, seed):
    perm = np.asarray(permutation(jax.random.PRNGKey(seed), n))
    assert perm.dtype == np.int32
    np.testing.assert_array_equal(np.sort(perm), np.arange(n))


def test_many_rounds_still_a_permutation():
    n = 2**20  # 12 random bits a key: five rounds
    assert num_rounds(n) == 5
    perm = np.asarray(jax.jit(permutation, static_argnums=1)(jax.random.PRNGKey(3), n))
    np.testing.assert_array_equal(np.sort(perm), np.arange(n))


def test_every_permutation_of_four_equally_likely():
    draws = 48_000
    perms = np.asarray(jax.vmap(lambda k: permutation(k, 4))(jax.random.split(jax.random.PRNGKey(0), draws)))
    index = {p: i for i, p in enumerate(itertools.permutations(range(4)))}
    counts = np.bincount([index[tuple(p)] for p in perms], minlength=24)
    assert stats.chisquare(counts).pvalue > P_FLOOR


def test_positions_uniform_at_minibatch_size():
    # PPO's batch of 8,192 (three rounds): where element 0 lands and whether 0 precedes 1.
    n, draws, bins = 8192, 4096, 16
    perms = np.asarray(jax.vmap(lambda k: permutation(k, n))(jax.random.split(jax.random.PRNGKey(1), draws)))
    where_zero = np.argmax(perms == 0, axis=1)
    counts = np.bincount(where_zero * bins // n, minlength=bins)
    assert stats.chisquare(counts).pvalue > P_FLOOR
    zero_first = np.sum(where_zero < np.argmax(perms == 1, axis=1))
    assert stats.binomtest(int(zero_first), draws, 0.5).pvalue > P_FLOOR
