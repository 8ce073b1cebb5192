"""Pause CPython's cyclic garbage collector around a burst of allocations that frees almost nothing."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cyclic_gc_paused(*, freeze_after: bool = False) -> Iterator[None]:
    """Disable the cyclic GC inside the block; afterwards restore its previous state.

    Reference counting still frees everything as usual; only the collections that the many
    allocations would trigger (each re-walking the growing heap for nothing) are skipped.
    With `freeze_after`, everything alive at the end moves to the permanent generation
    (`gc.freeze()`), so later collections do not walk it again either; use it only for
    long-lived structures without reference cycles. Nothing happens after the block when
    the collector was already disabled on entry.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if freeze_after:
                gc.freeze()
            gc.enable()
