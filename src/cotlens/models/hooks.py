"""The forward hook white-box interventions use, registered for the duration of a ``with`` block and always
removed on exit, also when the block raises (DESIGN.md: hooks that are removed on exit)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def residual_hook(module: Any) -> Iterator[dict[str, Any]]:
    """Hook ``module``'s output (a tensor [B, T, C], or a tuple whose first item is one) and yield the hook's
    state. While the state has no ``fill``, a forward pass records the output under ``seen`` (a clean pass);
    with ``fill`` ([C]) and ``target`` (a tensor of token positions), the output at those positions is replaced
    by ``fill`` in every row."""
    state: dict[str, Any] = {}

    def hook(_module: Any, _args: Any, output: Any) -> Any:
        h = output[0] if isinstance(output, tuple) else output
        if "fill" not in state:
            state["seen"] = h.detach()
            return output
        h = h.clone()
        h[:, state["target"].to(h.device)] = state["fill"].to(h.device, h.dtype)
        return (h, *output[1:]) if isinstance(output, tuple) else h

    handle = module.register_forward_hook(hook)
    try:
        yield state
    finally:
        handle.remove()
