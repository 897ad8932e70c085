"""Metrics reduced inside the compiled rollout, one step at a time (no stored trajectories).

``init_carry(spec, batch, info)`` builds the running values of ``batch`` environments,
``update(carry, spec, info, t, weight)`` adds step ``t`` (0-based) of all of them, and
``split(carry, spec, weight)`` returns the per-episode values and the pooled ones (sums and
histograms). Every environment of a batch is at the same step (fixed-length episodes started
together), so ring buffers are indexed by the scalar ``t``. Pooled values count only
environments with ``weight`` 1 (the padding of a last, partial batch has weight 0); the
histograms count only the systematic sample of ``histogram_sample``: environment e at step t
when (e - t) % ``MetricSpec.histogram_stride`` is 0 (every environment at every step when
the stride is 1). Everything else is summed over every step.

Definitions, in price units. ``m_k`` is the mid after step k (``m_0`` at reset); a passive
fill of step k has signed size ``s_k`` (+ bought) and price ``p_k``; ``q_k`` is the inventory
after step k.

* effective spread of a fill: ``s_k (m_{k-1} - p_k)``, against the mid the step began with
  (the one its quote was priced off): the env's ``fill_price_edge``;
* markout at horizon h >= 1: ``s_k (m_{k-1+h} - m_{k-1})``, how the mid moved for the fill h
  steps on (to the last mid for fills fewer than h steps before the end); negative when the
  fills are adversely selected;
* realised spread at horizon h: ``s_k (m_{k-1+h} - p_k)``, the fill valued at the mid h steps
  on: effective spread + markout;
* adverse selection at horizon H: the markout at H, the revaluation of positions less than
  H steps old;
* PnL decomposition: ``pnl = spread capture - slippage + fees + revaluation`` with spread
  capture the sum of effective spreads, slippage what market orders paid against the mid at
  arrival, and revaluation ``sum_k q_k (m_k - m_{k-1})`` = adverse selection + the rest (older
  inventory, inventory from market orders). The revaluation is the PnL less the other three
  sums (the parts add up to the PnL exactly); the tests check it against its definition;
* slippage at decision: a market order's price against the mid when its action was taken,
  ``latency`` (+ jitter) steps before it arrived: the arrival slippage plus the mid move in
  flight. The decision mids follow the environment's message pipeline (``message_delay``
  of each step's message; a later message arriving at the same step replaces an earlier one).

Environments report what these need as ``info`` entries (``FAMILIES``); a family whose
entries are missing is left out, and its metrics are reported as missing.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp

NUM_SIDES = 2  # bid, ask
BOOK_DISTANCE_UNIT_TICKS = 0.5  # fill-rate bins on a book: half ticks from the mid
MODEL_DISTANCE_UNIT_DECAYS = 0.25  # in the model: quarters of 1/fill_decay
RING_DTYPE = jnp.int16  # cumulative passive fills, kept modulo 2^16 (see ``update``)
HISTOGRAM_LANES = 16  # copies of each histogram, summed at the end (see ``_histogram_add``)
# info entries each metric family needs (besides the standard jaxmm.envs.base.INFO_KEYS).
FAMILIES = {
    "markouts": ("mid_change", "maker_bought", "maker_sold", "fill_price_edge"),
    "fill_rate": ("bid_distance", "ask_distance", "maker_bought", "maker_sold"),
    "decision_slippage": ("message_delay", "taker_qty", "slippage", "mid_change"),
    "order_to_trade": ("agent_messages",),
}


@dataclasses.dataclass(frozen=True)
class MetricSpec:
    """Static settings of the in-rollout metrics (shapes of the carry)."""

    markout_horizons: tuple[int, ...]
    adverse_horizon: int
    inventory_half_width: int  # inventory histogram over -w..w (values beyond land in the end bins)
    distance_bins: int
    pipeline_length: int  # slots of the decision-mid pipeline (the env's, when it has latency)
    # The inventory and fill-rate-by-distance histograms take environment e at step t when
    # (e - t) % histogram_stride == 0: a systematic sample of one (episode, step) pair in
    # ``histogram_stride``, every episode and every step at a rotating phase (1: all of them).
    histogram_stride: int = 1
    # False: none of these metrics, and the info entries only they read are not summed (the
    # rollout as it was before them; benchmarks/bench_eval.py measures the difference).
    extended: bool = True

    @property
    def horizons(self) -> tuple[int, ...]:
        """Every horizon the carry tracks: the markout curve's and the adverse-selection one."""
        return tuple(sorted(set(self.markout_horizons) | {self.adverse_horizon}))

    @property
    def ring_length(self) -> int:
        return max(self.horizons) + 1

    @property
    def adverse_index(self) -> int:
        return self.horizons.index(self.adverse_horizon)

    @classmethod
    def from_config(cls, eval_config, env, *env_params) -> "MetricSpec":
        """The spec of ``eval_config`` for ``env``; the inventory histogram spans the largest
        inventory limit of ``env_params`` (one or more, possibly stacked)."""
        limit = max(int(jnp.max(getattr(p, "max_inventory", 0))) for p in env_params)
        return cls(markout_horizons=tuple(eval_config.markout_horizons),
                   adverse_horizon=int(eval_config.adverse_selection_horizon),
                   inventory_half_width=limit,
                   distance_bins=int(eval_config.fill_rate_bins),
                   pipeline_length=int(getattr(env, "pipeline_length", 1)),
                   histogram_stride=int(eval_config.histogram_sample_every))


def distance_unit(env_params: Any) -> jax.Array:
    """Width of a fill-rate bin: half a tick on a book (quotes sit on ticks, the mid on half
    ticks), else a fraction of the model's fill-decay length 1/k."""
    if hasattr(env_params, "tick_size"):
        return BOOK_DISTANCE_UNIT_TICKS * env_params.tick_size
    if hasattr(env_params, "fill_decay"):
        return MODEL_DISTANCE_UNIT_DECAYS / env_params.fill_decay
    return jnp.float32(1.0)


# info entries the environments report for these metrics alone (the union over environments).
METRIC_INFO_KEYS = ("mid_change", "maker_bought", "maker_sold", "fill_price_edge", "taker_qty", "slippage",
                    "bid_distance", "ask_distance", "message_delay", "agent_messages")


def families(info: dict) -> frozenset[str]:
    """The metric families the environment's ``info`` supports."""
    return frozenset(name for name, keys in FAMILIES.items() if all(k in info for k in keys))


def _zeros(*shape):
    return jnp.zeros(shape, jnp.float32)


def init_carry(spec: MetricSpec, batch: int, info: dict) -> dict:
    """Running values at reset for ``batch`` environments (``info``: one step's entries or shapes).

    Per-environment values have shape (batch,) (ring buffers (slots, batch)), and so have the
    running sums of the pooled terms, one array each, and the markout moves, one row per
    horizon (summed over the batch by ``split``); the histograms have no batch axis."""
    if not spec.extended:
        return {}
    have = families(info)
    carry = {
        "peak_pnl": _zeros(batch), "max_drawdown": _zeros(batch),
        "inventory_hist": _zeros(2 * spec.inventory_half_width + 1, HISTOGRAM_LANES),
    }
    if "markouts" in have:
        carry.update(position=_zeros(batch), position_ring=jnp.zeros((spec.ring_length, batch), RING_DTYPE),
                     markout_moves=_zeros(len(spec.horizons), batch))
    else:
        carry["last_pnl"] = _zeros(batch)
    carry["pooled"] = [_zeros(batch) for _ in pooled_names(spec, "markouts" in have)]
    if "fill_rate" in have:
        carry["quote_hist"] = _zeros(NUM_SIDES * spec.distance_bins * 2, HISTOGRAM_LANES)  # (side, bin, filled?)
    if "decision_slippage" in have:
        carry.update(mid=_zeros(batch), decision_mids=_zeros(spec.pipeline_length, batch),
                     slippage_decision=_zeros(batch))
    return carry


def _histogram_add(hist: jax.Array, index: jax.Array, weight: jax.Array) -> jax.Array:
    """Add ``weight`` at ``index`` (both (batch,)) to ``hist`` of shape (bins, HISTOGRAM_LANES).

    Environment e adds to lane e % HISTOGRAM_LANES: the adds of one step rarely hit the same
    memory one after the other, which makes the scatter several times faster on a CPU."""
    lanes = jnp.arange(index.shape[0], dtype=jnp.int32) % HISTOGRAM_LANES
    flat = hist.reshape(-1).at[index * HISTOGRAM_LANES + lanes].add(weight, mode="promise_in_bounds")
    return flat.reshape(hist.shape)


def histogram_sample(spec: MetricSpec, t: jax.Array, batch: int) -> tuple[Callable, jax.Array | None]:
    """(take, valid): ``take(x)`` picks from a (batch,) array the environments that step ``t``
    adds to the histograms, e = t % stride + stride j for j = 0, 1, ...; ``valid`` is False for
    picks past the batch (clipped to its last environment), None when there are none (the
    stride divides the batch, or is 1: every environment).

    When the stride divides the batch the picks are one column of the batch seen as a
    (batch / stride, stride) array: a strided read, several times cheaper than a gather."""
    stride = spec.histogram_stride
    if stride == 1:
        return (lambda x: x), None
    if batch % stride == 0:
        column = t % stride
        return (lambda x: jax.lax.dynamic_index_in_dim(x.reshape(-1, stride), column, 1, keepdims=False)), None
    envs = t % stride + stride * jnp.arange(-(-batch // stride), dtype=jnp.int32)
    return (lambda x: x[jnp.minimum(envs, batch - 1)]), envs < batch


def pooled_names(spec: MetricSpec, markouts: bool) -> list[str]:
    """The sums over the batch kept in ``carry["pooled"]``, in order (taker volume is 0 for an
    environment without market orders; the markout moves have their own array)."""
    return ["pnl_step_sq", "fill_events", "taker_volume"] + (["maker_volume"] if markouts else [])


def update(carry: dict, spec: MetricSpec, info: dict, t: jax.Array, weight: jax.Array,
           distance_unit: jax.Array) -> dict:
    """Add step ``t`` of every environment (``info`` entries of shape (batch,)); ``weight``
    (1 or 0, the padding of a last, partial batch) applies to the histograms here and to the
    pooled sums in ``split``."""
    if not spec.extended:
        return carry
    out = dict(carry)
    pnl = info["pnl"]
    out["peak_pnl"] = jnp.maximum(carry["peak_pnl"], pnl)
    out["max_drawdown"] = jnp.maximum(carry["max_drawdown"], out["peak_pnl"] - pnl)
    if "last_pnl" in carry:
        step_pnl = pnl - carry["last_pnl"]
        out["last_pnl"] = pnl
    else:  # the step's PnL from its parts (see the decomposition above): no running value needed
        step_pnl = info["fill_price_edge"] - info.get("slippage", 0.0) + info.get("fees", 0.0) \
            + info["inventory"] * info["mid_change"]
    # Per-environment terms whose sums over the batch are all that is kept (in the order of
    # ``pooled_names``). Each is added to a running sum per environment, one (batch,) array per
    # term, and reduced over the batch once, in ``split``: on a CPU that costs less than a dot
    # product over the batch each step, and less than one (terms, batch) array built from them
    # (BENCHMARKS.md, "Evaluation: what the full metric set costs").
    fills = (info["bid_fill"] > 0).astype(jnp.float32) + (info["ask_fill"] > 0).astype(jnp.float32)
    taker = jnp.abs(info["taker_qty"]) if "taker_qty" in info else jnp.zeros_like(fills)
    terms = [step_pnl * step_pnl, fills, taker]
    take, valid = histogram_sample(spec, t, weight.shape[0])
    sampled_weight = take(weight) if valid is None else take(weight) * valid
    w = spec.inventory_half_width
    q_index = jnp.clip(jnp.round(take(info["inventory"])).astype(jnp.int32) + w, 0, 2 * w)
    out["inventory_hist"] = _histogram_add(carry["inventory_hist"], q_index, sampled_weight)

    if "position_ring" in carry:
        # Cumulative signed passive fills S_t; the fills of the last h steps are S_t - S_{t-h}.
        # The ring holds S in 16-bit integers that wrap around: the differences stay exact
        # while fewer than 2^15 units fill within the longest horizon. It is written before
        # it is read (rows of older steps only), which keeps the update in place in the loop.
        position = carry["position"] + info["maker_bought"] - info["maker_sold"]
        length = spec.ring_length
        wrapped = position.astype(jnp.int32).astype(RING_DTYPE)
        ring = jax.lax.dynamic_update_index_in_dim(carry["position_ring"], wrapped, t % length, 0)
        # Every horizon's row in one gather and one (horizons, batch) update. A dynamic slice
        # and a running sum per horizon are as many kernels, each reading the step's values
        # again: the metrics cost +15% of the rollout that way on two cores, +6% this way
        # (BENCHMARKS.md, "Evaluation: what the full metric set costs").
        rows = ring.at[(t - jnp.asarray(spec.horizons, jnp.int32)) % length].get(mode="promise_in_bounds")
        windows = (wrapped[None] - rows).astype(jnp.float32)
        out["position"], out["position_ring"] = position, ring
        out["markout_moves"] = carry["markout_moves"] + windows * info["mid_change"][None]
        terms.append(info["maker_bought"] + info["maker_sold"])
    out["pooled"] = [acc + x for acc, x in zip(carry["pooled"], terms)]

    if "quote_hist" in carry:
        hist = carry["quote_hist"]
        sides = (("bid_quoted", "bid_distance", "maker_bought"), ("ask_quoted", "ask_distance", "maker_sold"))
        for side, (quoted_key, distance_key, filled_key) in enumerate(sides):
            bins = jnp.clip(jnp.round(take(info[distance_key]) * (1.0 / distance_unit)).astype(jnp.int32), 0,
                            spec.distance_bins - 1)
            index = (side * spec.distance_bins + bins) * 2 + (take(info[filled_key]) > 0).astype(jnp.int32)
            hist = _histogram_add(hist, index, sampled_weight * take(info[quoted_key]))
        out["quote_hist"] = hist

    if "decision_mids" in carry:
        mid = carry["mid"]  # relative to the mid at reset, at the start of step t
        slots = spec.pipeline_length
        send_slot = (t + info["message_delay"].astype(jnp.int32)) % slots
        columns = jnp.arange(mid.shape[0])
        mids = carry["decision_mids"].at[send_slot, columns].set(mid, mode="promise_in_bounds")
        decided_at = mids[t % slots]
        out["decision_mids"] = mids
        out["slippage_decision"] = carry["slippage_decision"] + info["slippage"] \
            + info["taker_qty"] * (mid - decided_at)
        out["mid"] = mid + info["mid_change"]
    return out


def split(carry: dict, spec: MetricSpec, weight: jax.Array) -> tuple[dict, dict]:
    """(per-episode values, pooled values) at the end of the episodes; the pooled sums count
    the environments with ``weight`` 1."""
    if not spec.extended:
        return {}, {}
    episode = {"max_drawdown": carry["max_drawdown"]}
    names = pooled_names(spec, "position_ring" in carry)
    pooled: dict[str, Any] = {f"pooled_{n}": (weight * carry["pooled"][i]).sum() for i, n in enumerate(names)}
    if "position_ring" in carry:
        moves = carry["markout_moves"]
        pooled["pooled_markout_move"] = jnp.stack([(weight * moves[i]).sum() for i in range(len(spec.horizons))])
        # The markout at the adverse-selection horizon, per episode: the revaluation of
        # positions younger than that horizon.
        episode["adverse_selection_part"] = moves[spec.adverse_index]
    pooled["inventory_hist"] = carry["inventory_hist"].sum(axis=1)
    if "quote_hist" in carry:
        pooled["quote_hist"] = carry["quote_hist"].sum(axis=1).reshape(NUM_SIDES, spec.distance_bins, 2)
    if "slippage_decision" in carry:
        episode["slippage_decision"] = carry["slippage_decision"]
    return episode, pooled
