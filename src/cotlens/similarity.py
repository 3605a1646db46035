"""Sentence similarity offline: a small interface to sentence embedders, and the ones that need no download.

Thought Anchors (Bogdan et al. 2025, ``analyze_rollouts.py``) compares a resampled sentence with the one it
replaced by the cosine similarity of their all-MiniLM-L6-v2 embeddings (sentence-transformers). That model is
fetched from a hub, which cannot happen here, so the default embedder is one whose weights ship inside its wheel:

- ``wordllama`` (default): WordLlama's ``l2_supercat`` token embeddings, 256 dimensions, average-pooled
  (``wordllama`` package, 16 MB of weights in the wheel). A bag of token embeddings, not a transformer: it
  scores paraphrases as similar, and it barely tells apart sentences that differ only in a number
  ("B=3+4=7." and "B=3+4=8." have cosine 0.92, so both count as "similar" at the paper's 0.8 threshold),
  which all-MiniLM-L6-v2 does no better on arithmetic.
- ``hf:PATH``: any local transformers encoder directory (for example all-MiniLM-L6-v2 downloaded beforehand),
  mean-pooled over its last hidden layer as sentence-transformers does for that model.

``load_embedder(spec)`` returns one; its ``identity`` (name and weights digest) goes into every record that used
it.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from cotlens.types import CotlensError

EMBEDDERS = "wordllama, hf:PATH"


class Embedder(Protocol):
    @property
    def identity(self) -> dict[str, str]:
        """What makes its embeddings what they are: the spec and a digest of the weights."""
        ...

    def embed(self, texts: Sequence[str]) -> Any:
        """A float array [len(texts), dim], one embedding per text."""
        ...


def cosine(a: Any, b: Any) -> float:
    """Cosine similarity of two vectors (0 when either is zero)."""
    import numpy as np

    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return 0.0 if na == 0 or nb == 0 else float(np.dot(a, b) / (na * nb))


def _digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]


class WordLlamaEmbedder:
    """WordLlama's ``l2_supercat`` model at 256 dimensions, from the files in the ``wordllama`` wheel (its own
    loader looks for the tokenizer in a folder the wheel does not use, then tries to download it)."""

    CONFIG = "l2_supercat"
    DIM = 256

    def __init__(self) -> None:
        spec = importlib.util.find_spec("wordllama")
        if spec is None or spec.origin is None:
            raise CotlensError("embedder 'wordllama' needs the wordllama package: pip install wordllama")
        from safetensors import safe_open
        from wordllama import WordLlama
        from wordllama.inference import WordLlamaInference

        root = Path(spec.origin).parent
        weights = root / "weights" / f"{self.CONFIG}_{self.DIM}.safetensors"
        tokenizer = root / "tokenizers" / f"{self.CONFIG}_tokenizer_config.json"
        for f in (weights, tokenizer):
            if not f.is_file():
                raise CotlensError(f"embedder 'wordllama': {f} is missing from the wordllama package")
        with safe_open(str(weights), framework="np", device="cpu") as fh:
            table = fh.get_tensor("embedding.weight")
        self._model = WordLlamaInference(table, WordLlama.load_tokenizer(tokenizer, hf_model_id=None))
        self._identity = {"spec": "wordllama", "model": f"{self.CONFIG}_{self.DIM}", "weights": _digest(weights)}

    @property
    def identity(self) -> dict[str, str]:
        return dict(self._identity)

    def embed(self, texts: Sequence[str]) -> Any:
        return self._model.embed(list(texts), norm=False)


class HFEmbedder:
    """A local transformers encoder, mean-pooled over the last hidden layer (attention-masked)."""

    def __init__(self, path: str) -> None:
        src = Path(path)
        if not (src / "config.json").is_file():
            raise CotlensError(f"embedder hf:{path}: not a transformers model directory (no config.json)")
        import torch
        from transformers import AutoModel, AutoTokenizer

        self._torch = torch
        self._tok = AutoTokenizer.from_pretrained(str(src), local_files_only=True)
        if self._tok.pad_token is None:
            self._tok.pad_token = self._tok.eos_token
        self._model = AutoModel.from_pretrained(str(src), local_files_only=True, dtype=torch.float32).eval()
        weights = sorted(src.glob("*.safetensors")) or sorted(src.glob("*.bin"))
        self._identity = {"spec": f"hf:{path}", "weights": _digest(weights[0]) if weights else "unknown"}

    @property
    def identity(self) -> dict[str, str]:
        return dict(self._identity)

    def embed(self, texts: Sequence[str]) -> Any:
        torch = self._torch
        with torch.inference_mode():
            enc = self._tok(list(texts), padding=True, truncation=True, return_tensors="pt")
            hidden = self._model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            return ((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).numpy()


_LOADED: dict[str, Embedder] = {}


def check_embedder(spec: str) -> None:
    """Fails (CotlensError) on a spec that names no embedder, without loading it."""
    if spec == "wordllama":
        if importlib.util.find_spec("wordllama") is None:
            raise CotlensError("embedder 'wordllama' needs the wordllama package: pip install wordllama")
        return
    if spec.startswith("hf:"):
        if not (Path(spec[3:]) / "config.json").is_file():
            raise CotlensError(f"embedder {spec}: not a transformers model directory (no config.json)")
        return
    raise CotlensError(f"unknown embedder {spec!r}; available: {EMBEDDERS}")


def load_embedder(spec: str) -> Embedder:
    """The embedder ``spec`` names (``EMBEDDERS``), loaded once per process."""
    if spec not in _LOADED:
        check_embedder(spec)
        _LOADED[spec] = WordLlamaEmbedder() if spec == "wordllama" else HFEmbedder(spec[3:])
    return _LOADED[spec]
