"""CoTs the benchmarks build: sentences of arithmetic up to a length in tokens."""

from __future__ import annotations

from collections.abc import Callable


def arithmetic_cot(count_tokens: Callable[[str], int], length: int) -> str:
    """Sentences "Next we add i and i + 3, which gives 2i + 3." until the text has ``length`` tokens or more."""
    sentences: list[str] = []
    while count_tokens(" ".join(sentences)) < length:
        i = len(sentences)
        sentences.append(f"Next we add {i} and {i + 3}, which gives {2 * i + 3}.")
    return " ".join(sentences)
