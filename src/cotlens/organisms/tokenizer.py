"""A character tokenizer for the synthetic organism tasks: one token per character, plus PAD, BOS and EOS."""

from __future__ import annotations

from collections.abc import Sequence

CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+-*=;,.?>|#$%&@!: "
PAD, BOS, EOS = 0, 1, 2
SPECIAL = ("<pad>", "<bos>", "<eos>")


class CharTokenizer:
    def __init__(self, chars: str = CHARS) -> None:
        self.chars = chars
        self.itos = list(SPECIAL) + list(chars)
        self.stoi = {c: i + len(SPECIAL) for i, c in enumerate(chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.stoi[c] for c in text]
        except KeyError as e:
            raise ValueError(f"character {e.args[0]!r} is not in the organism vocabulary") from None

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.itos[i] for i in ids if i >= len(SPECIAL))
