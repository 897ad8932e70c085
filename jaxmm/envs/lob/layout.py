"""Book layouts: how a ``vmap`` over books runs the book, flow and agent handlers.

* ``per_book``: the handlers are vmapped as written for one book; every level
  reduction then runs along the minor axis of a (books, levels) array.
* ``batch``: a ``vmap`` over books calls each handler once for the whole batch,
  its arrays in the levels x batch layout (``volume`` (2, P, B), the batch minor),
  so level reductions become vector operations across the books. The handlers are
  the same functions (they are written for either layout, see ``book.py``); only
  the entry points below change, through ``jax.custom_batching.custom_vmap``: the
  environment calls them per book as always, and a caller's ``vmap`` over the
  environment picks the batch-wide form with no change on its side. Each entry
  point moves the batch axis last on the way in and first on the way out; XLA
  folds the transposes between consecutive entry points.

Arguments listed as ``shared`` (parameters) stay as they are; other unbatched
arguments are broadcast to the batch. When a shared argument is itself batched
(parameters vmapped per book), the entry point falls back to the per-book form.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap

from jaxmm.envs.lob import agent, book as lob, observation as ob
from jaxmm.envs.lob.flow import flow_step

PER_BOOK = "per_book"
BATCH = "batch"
LAYOUTS = (PER_BOOK, BATCH)


def _batch_last(x: jax.Array) -> jax.Array:
    return jnp.moveaxis(x, 0, -1)


def _batch_first(x: jax.Array) -> jax.Array:
    return jnp.moveaxis(x, -1, 0)


def batch_wide(handler: Callable, shared: tuple[int, ...] = ()) -> Callable:
    """``handler`` (positional array arguments, written for either layout) as a function
    that runs per book, and under ``vmap`` once over the batch in the levels x batch layout."""

    @custom_vmap
    def one_book(*args):
        return handler(*args)

    @one_book.def_vmap
    def whole_batch(axis_size, in_batched, *args):
        if any(any(jax.tree.leaves(in_batched[i])) for i in shared):
            out = jax.vmap(handler, in_axes=tuple(
                jax.tree.map(lambda b: 0 if b else None, flags) for flags in in_batched))(*args)
            return out, jax.tree.map(lambda _: True, out)

        def to_layout(x, batched):
            return _batch_last(x) if batched else jnp.broadcast_to(
                jnp.expand_dims(x, -1), jnp.shape(x) + (axis_size,))

        moved = [arg if i in shared else jax.tree.map(to_layout, arg, flags)
                 for i, (arg, flags) in enumerate(zip(args, in_batched))]
        out = jax.tree.map(_batch_first, handler(*moved))
        return out, jax.tree.map(lambda _: True, out)

    return one_book


class PerBookOps:
    """The book-side steps of an environment transition, one book at a time."""

    def best_price(self, book: lob.Book, side: int):
        return lob.best_price(book, side)

    def apply_message(self, book, message, arrived, capacity, inventory, max_inventory):
        return agent.apply_message(book, message, arrived, capacity, inventory, max_inventory)

    def flow_step(self, book, uniforms, flow, mid, fair_value, excitation, limit_slots, cancel_slots):
        return flow_step(book, uniforms, flow, mid, fair_value, excitation, limit_slots, cancel_slots)

    def mid_price(self, book, last_mid):
        return ob.mid_price(book, last_mid)

    def shift_window(self, book, new_origin):
        return lob.shift_window(book, new_origin)

    def book_features(self, book, mid, visible_levels: int, volume_scale):
        return ob.book_features(book, mid, visible_levels, volume_scale)


class BatchWideOps(PerBookOps):
    """The same steps, batch-wide under ``vmap`` (static arguments are closed over)."""

    def best_price(self, book, side):
        return batch_wide(lambda b: lob.best_price(b, side))(book)

    def apply_message(self, book, message, arrived, capacity, inventory, max_inventory):
        return batch_wide(agent.apply_message, shared=(3, 5))(
            book, message, arrived, capacity, inventory, max_inventory)

    def flow_step(self, book, uniforms, flow, mid, fair_value, excitation, limit_slots, cancel_slots):
        def handler(book, uniforms, flow, mid, fair_value, excitation):
            return flow_step(book, uniforms, flow, mid, fair_value, excitation, limit_slots, cancel_slots)
        return batch_wide(handler, shared=(2,))(book, uniforms, flow, mid, fair_value, excitation)

    def mid_price(self, book, last_mid):
        return batch_wide(ob.mid_price)(book, last_mid)

    def shift_window(self, book, new_origin):
        return batch_wide(lob.shift_window)(book, new_origin)

    def book_features(self, book, mid, visible_levels, volume_scale):
        return batch_wide(lambda b, m, scale: ob.book_features(b, m, visible_levels, scale),
                          shared=(2,))(book, mid, volume_scale)


BOOK_OPS = {PER_BOOK: PerBookOps(), BATCH: BatchWideOps()}
