"""Exact optimum of the model environment's discrete problem, by backward induction.

The state that matters for the expected reward of the model environment is
(step n, inventory q): cash and mid-price enter the reward only through the
mark-to-market change, whose mid-move part q' dS has mean q' mu dt. With the
discrete action grid (rows of (bid depth, ask depth), inf meaning no quote), the
Bellman recursion of the environment's own transition is

    V_N(q) = -w_terminal q^2
    V_n(q) = max_a  r(q, a) + sum_{b, s in {0, 1}} P_b(b) P_s(s) V_{n+1}(q + b - s)

with independent bid and ask fills of probability p = min(A exp(-k d) dt, 1)
(zero for a side not quoted, or quoted at the inventory limit it would break), and

    r(q, a) = w_pnl (p_b d_b + p_s d_s + E[q'] mu dt) - w_running q^2 dt - w_volatility |q| sigma sqrt(dt).

With the flatten action (``params.flatten_index``) the market order is a
deterministic inventory jump ``j(q) = -sign(q) min(|q|, flatten_size)`` at the
start of the step, with no quotes after it:

    Q_n(q, flatten) = w_pnl (-cost |j| + (q + j) mu dt) - w_running q^2 dt
                      - w_volatility |q| sigma sqrt(dt) + V_{n+1}(q + j)

so on the last step the terminal penalty applies to the post-trade inventory.
The recursion treats every action this way, with j = 0 for the quoting rows.

Every reward component of the environment is included with its weight, so the
value is the exact expected episode reward of the optimal policy, for any weights.
``solve`` runs the recursion as one ``lax.scan`` backwards over time, vectorised
over inventories and actions.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmm.baselines.common import initial_inventories, inventory_index, num_steps, step_index
from jaxmm.envs.model_config import MODEL_REWARD_COMPONENTS
from jaxmm.errors import ConfigError
from jaxmm.policy import Policy

POLICY_NAME = "dynamic_programming"
DISCRETE = "discrete"
PNL, RUNNING, TERMINAL, VOLATILITY = range(len(MODEL_REWARD_COMPONENTS))
FILL_OUTCOMES = ((0, 0), (1, 0), (0, 1), (1, 1))  # (bid filled, ask filled)


class Solution(NamedTuple):
    value: jax.Array  # (num_steps + 1, 2 Qbar + 1) float32: V[n, q + Qbar]
    policy: jax.Array  # (num_steps, 2 Qbar + 1) int32: optimal action index at (n, q)


def _fill_probability(quoted, depth, intensity_dt, fill_decay):
    """As the environment computes it; exactly zero where the side is not quoted."""
    p = jnp.minimum(intensity_dt * jnp.exp(-fill_decay * jnp.where(quoted, depth, 0.0)), 1.0)
    return jnp.where(quoted, p, 0.0)


def _one_step(env_params, max_inventory: int):
    """Expected reward ``r[q, a]`` and the fill outcomes ``[(P[q, a], next inventory index[q, a])]``."""
    w = env_params.reward_weights
    dt = env_params.dt
    q = jnp.arange(-max_inventory, max_inventory + 1, dtype=jnp.int32)[:, None]  # (Q, 1)
    qf = q.astype(jnp.float32)
    actions = jnp.arange(env_params.action_grid.shape[0], dtype=jnp.int32)[None, :]  # (1, A)
    flatten_size = jnp.minimum(jnp.abs(q), env_params.flatten_size)
    jump = jnp.where(actions == env_params.flatten_index, -jnp.sign(q) * flatten_size, 0)  # (Q, A)
    order_cost = env_params.market_order_cost * jnp.abs(jump).astype(jnp.float32)
    quoted_q = q + jump  # the inventory the quotes act on
    bid, ask = env_params.action_grid[:, 0][None, :], env_params.action_grid[:, 1][None, :]  # (1, A)
    bid_quoted = (quoted_q < max_inventory) & jnp.isfinite(bid)
    ask_quoted = (quoted_q > -max_inventory) & jnp.isfinite(ask)
    intensity_dt = env_params.arrival_rate * dt
    p_bid = _fill_probability(bid_quoted, bid, intensity_dt, env_params.fill_decay)
    p_ask = _fill_probability(ask_quoted, ask, intensity_dt, env_params.fill_decay)

    edge = jnp.where(bid_quoted, p_bid * bid, 0.0) + jnp.where(ask_quoted, p_ask * ask, 0.0)
    mean_next_inventory = quoted_q.astype(jnp.float32) + p_bid - p_ask
    reward = (w[PNL] * (edge - order_cost + mean_next_inventory * env_params.drift * dt)
              - w[RUNNING] * qf * qf * dt
              - w[VOLATILITY] * jnp.abs(qf) * env_params.volatility * jnp.sqrt(dt))  # (Q, A)

    outcomes = []
    for bought, sold in FILL_OUTCOMES:
        probability = (p_bid if bought else 1.0 - p_bid) * (p_ask if sold else 1.0 - p_ask)
        # Out-of-range neighbours only occur with probability zero; clipping keeps the index valid.
        outcomes.append((probability, inventory_index(quoted_q + bought - sold, max_inventory)))
    return reward, outcomes, -w[TERMINAL] * (qf[:, 0] ** 2)


@functools.partial(jax.jit, static_argnames=("steps", "max_inventory"))
def _backward_induction(env_params, *, steps: int, max_inventory: int) -> Solution:
    reward, outcomes, terminal = _one_step(env_params, max_inventory)

    def backward(next_value, _):
        q_value = reward + sum(p * next_value[index] for p, index in outcomes)
        value = jnp.max(q_value, axis=1)
        return value, (value, jnp.argmax(q_value, axis=1).astype(jnp.int32))

    _, (values, policy) = jax.lax.scan(backward, terminal, None, length=steps, reverse=True)
    return Solution(value=jnp.concatenate([values, terminal[None]], axis=0), policy=policy)


@functools.partial(jax.jit, static_argnames=("max_inventory",))
def _table_values(env_params, table, *, max_inventory: int) -> jax.Array:
    reward, outcomes, terminal = _one_step(env_params, max_inventory)

    def backward(next_value, actions):
        q_value = reward + sum(p * next_value[index] for p, index in outcomes)
        value = jnp.take_along_axis(q_value, actions[:, None], axis=1)[:, 0]
        return value, value

    _, values = jax.lax.scan(backward, terminal, table, reverse=True)
    return jnp.concatenate([values, terminal[None]], axis=0)


def policy_values(env_params, table) -> jax.Array:
    """V^pi[n, q] of the policy that takes action ``table[n, q + Qbar]`` at step n and inventory q.

    The exact expected reward-to-go of any policy that depends on (step, inventory) alone, by
    the same recursion as :func:`solve` with the maximum replaced by the table's action: no
    Monte Carlo error, so a learned greedy policy can be scored to the last digit.
    """
    max_inventory = int(env_params.max_inventory)
    table = jnp.asarray(table, jnp.int32)
    expected = (num_steps(env_params), 2 * max_inventory + 1)
    if table.shape != expected:
        raise ValueError(f"policy table has shape {tuple(table.shape)}; expected (steps, inventories) = {expected}")
    return _table_values(env_params, table, max_inventory=max_inventory)


def solve(env_params) -> Solution:
    """V[n, q] and the optimal action table of a model environment with a discrete action grid."""
    return _backward_induction(env_params, steps=num_steps(env_params),
                               max_inventory=int(env_params.max_inventory))


def initial_value(solution: Solution | jax.Array, env_params) -> float:
    """Expected episode reward: mean of V[0, q0] over the initial inventories.

    ``solution`` is :func:`solve`'s (the optimum) or a value table such as :func:`policy_values`'.
    """
    value = solution.value if isinstance(solution, Solution) else solution
    max_inventory = (value.shape[1] - 1) // 2
    return float(np.mean(np.asarray(value[0], np.float64)[initial_inventories(env_params) + max_inventory]))


def greedy_table(env, env_params, policy: Policy) -> jax.Array:
    """The action ``policy`` takes at every (step, inventory) of the model environment: (steps, 2 Qbar + 1).

    Only for observations that are a function of (step, inventory): with ``obs_mid_lags`` the
    policy also sees the mid's recent moves, and no table describes it.
    """
    if getattr(env, "obs_mid_lags", 0):
        raise ConfigError(f"a policy that sees the mid's last {env.obs_mid_lags} moves is not a function of "
                          "(step, inventory); set env.obs_mid_lags=0 to tabulate it")
    max_inventory = int(env_params.max_inventory)
    steps = num_steps(env_params)
    time, inventory = jnp.meshgrid(jnp.arange(steps, dtype=jnp.int32),
                                   jnp.arange(-max_inventory, max_inventory + 1, dtype=jnp.int32), indexing="ij")
    _, template = env.reset_env(jax.random.key(0), env_params)

    def action(t, q):
        state = template.replace(time=t, inventory=q)
        return policy.act(policy.params, jax.random.key(0), env.get_obs(state, env_params), state, env_params)

    return jax.jit(jax.vmap(jax.vmap(action)))(time, inventory).astype(jnp.int32)


@dataclasses.dataclass(frozen=True)
class TableAct:
    """``act`` that looks up the optimal action at (step, inventory); equal for equal environments."""

    env: Any

    def __call__(self, params: Solution, key, obs, state, env_params):
        time_remaining, inventory = self.env.policy_inputs(state, env_params)
        model = self.env.quote_model(env_params)
        max_inventory = (params.policy.shape[1] - 1) // 2
        row = step_index(time_remaining, model, params.policy.shape[0])
        return params.policy[row, inventory_index(inventory, max_inventory)]


def make_dynamic_programming(config, env, env_params) -> Policy:
    """The optimal policy of the discrete problem; ``closed_form_value`` is its exact expected reward."""
    if getattr(env, "action_type", None) != DISCRETE:
        raise ConfigError(f"policy {POLICY_NAME!r} optimises over a discrete quote grid; set "
                          f"env.action_type=discrete and env.depth_grid (got action type "
                          f"{getattr(env, 'action_type', None)!r})")
    if tuple(getattr(env, "reward_components", ())) != MODEL_REWARD_COMPONENTS:
        raise ConfigError(f"policy {POLICY_NAME!r} solves the model environment's transition; "
                          f"it cannot be used with the {getattr(env, 'name', type(env).__name__)!r} environment")
    solution = solve(env_params)
    return Policy(POLICY_NAME, TableAct(env), solution, closed_form_value=initial_value(solution, env_params))
