"""The Model protocol every backend implements, and its capability flags.

A backend has a few batch methods (after lm-evaluation-harness's ``LM``): ``generate`` continues prompts,
``score_choices`` reads the next-token log-probabilities of answer letters. Optional abilities are declared in
``capabilities`` and checked with ``require`` so a metric that needs one fails early with a clear message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from cotlens.types import CotlensError, GenerationSettings, Prompt

GENERATE = "generate"
SCORE_CHOICES = "score_choices"
COUNT_TOKENS = "count_tokens"
SCORE_PREFIXES = "score_prefixes"
"""Optional: ``score_prefixes(prompts, letters)`` returns what ``score_choices`` does, for prompts that share a
prefix (the answer prompts after each truncation of one CoT), computed in one forward pass: the prompts' distinct
suffixes are packed after the longest prompt, each attending only to its own prefix (a 4D attention mask with
matching position ids). Equal to ``score_choices`` up to floating-point reduction order."""
HIDDEN_STATES = "hidden_states"
"""Optional: ``hidden_states(prompts)`` gives, per prompt, the residual stream as a float32 array
[layers + 1, tokens, width] (the embeddings, then after each layer) over the prompt as the model reads it.
``residuals_at(prompts, cots, offsets, layers)`` gives, per prompt, a float32 array [len(offsets) + 1,
len(layers), width]: the residual stream at chosen layers (0 = the embeddings, i = after layer i) at the last
token that ends at or before each character offset of ``cot`` (the CoT as it appears in the prompt's last
assistant message, or its prefill), then at the prompt's last token."""
ABLATE = "ablate"
"""Optional: ``score_ablated(prompts, letters, cots, spans, layer, mode)`` returns what ``score_choices`` does,
with the residual stream at ``layer`` (0 = the embeddings, i = after layer i) replaced, at the tokens of the
character span ``spans[i]`` of ``cots[i]`` in prompt i, by zeros (``mode`` "zero") or by its mean over the
CoT's tokens in the same prompt ("mean"). Done with forward hooks that are removed on exit, also on error."""
ABLATION_MODES = ("mean", "zero")


@runtime_checkable
class Model(Protocol):
    """A language model cotlens can run its metrics on."""

    @property
    def identity(self) -> dict[str, Any]:
        """What makes this model's outputs what they are: spec, weights revision, dtype. Part of cache keys."""
        ...

    @property
    def capabilities(self) -> frozenset[str]: ...

    def generate(self, prompts: Sequence[Prompt], settings: GenerationSettings, seed: int) -> list[str]:
        """Continue each prompt after its prefill; return only the new text (end-of-turn removed)."""
        ...

    def score_choices(self, prompts: Sequence[Prompt], letters: Sequence[Sequence[str]]) -> list[list[float]]:
        """For each prompt, the log-probability (over the whole vocabulary) of each letter as the next token."""
        ...

    def count_tokens(self, text: str) -> int:
        """Number of tokens the model's tokenizer gives ``text``."""
        ...


class LocalModel:
    """What the in-process backends (transformers, organisms) share: an identity fixed at load time, the same
    capabilities, and the checks of the white-box methods' arguments."""

    _identity: dict[str, Any]

    @property
    def identity(self) -> dict[str, Any]:
        return dict(self._identity)

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({GENERATE, SCORE_CHOICES, COUNT_TOKENS, HIDDEN_STATES, SCORE_PREFIXES, ABLATE})

    @property
    def context_length(self) -> int | None:
        """The longest sequence (prompt and generated tokens) the model was built for; None if not known."""
        return None

    def count_tokens(self, text: str) -> int:
        raise NotImplementedError

    def prompt_tokens(self, prompt: Prompt) -> int:
        """Tokens of ``prompt`` as the model reads it (by default its texts' tokens, without a template)."""
        return self.count_tokens("".join(m.content for m in prompt.messages) + prompt.prefill)

    def _check_context(self, n_tokens: int) -> None:
        ctx = self.context_length
        if ctx is not None and n_tokens > ctx:
            raise CotlensError(f"a prompt of {n_tokens} tokens is longer than {self._identity['spec']}'s context of "
                               f"{ctx} tokens")

    @property
    def n_layers(self) -> int:
        """Layers of the residual stream after the embeddings (white-box layers are 0..n_layers)."""
        raise NotImplementedError

    def _check_layer(self, layer: int) -> None:
        if not 0 <= layer <= self.n_layers:
            raise CotlensError(f"layer {layer} out of range: {self._identity['spec']} has layers 0 (embeddings) "
                               f"to {self.n_layers}")

    def _check_ablation(self, layer: int, mode: str) -> None:
        if mode not in ABLATION_MODES:
            raise CotlensError(f"ablation mode must be one of {', '.join(ABLATION_MODES)}, got {mode!r}")
        self._check_layer(layer)


def require(model: Model, capability: str, who: str) -> None:
    """Fail early when ``model`` lacks ``capability``, naming ``who`` needs it."""
    if capability not in model.capabilities:
        spec = model.identity.get("spec", "?")
        raise CotlensError(f"{who} needs the '{capability}' capability, which model {spec} does not have")
