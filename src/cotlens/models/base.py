"""The Model protocol every backend implements, and its typed capabilities.

A backend has a few batch methods (after lm-evaluation-harness's ``LM``): ``generate`` continues prompts,
``score_choices`` reads the next-token log-probabilities of answer letters. An optional ability is a typed
protocol (``ScoresPrefixes``, ``WhiteBox``, ``Ablates``, ``Served``, ``Renders``, ``RanksNextTokens``,
``Rollouts``) with a ``Capability`` constant naming it. A backend declares the names of its abilities in
``capabilities``; ``require(model, WHITE_BOX, who)`` fails early with a clear message when one is missing and
otherwise returns the model typed as that protocol, and ``has`` asks without failing. No caller reaches for an
attribute by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, cast, runtime_checkable

from cotlens.types import CotlensError, GenerationSettings, ModelIdentity, Prompt

ABLATION_MODES = ("mean", "zero")


@runtime_checkable
class Model(Protocol):
    """A language model cotlens can run its metrics on."""

    @property
    def identity(self) -> ModelIdentity:
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


class ScoresPrefixes(Model, Protocol):
    def score_prefixes(self, prompts: Sequence[Prompt], letters: Sequence[Sequence[str]]) -> list[list[float]]:
        """What ``score_choices`` returns, for prompts that share a prefix (the answer prompts after each
        truncation of one CoT), in one forward pass: the prompts' distinct suffixes are packed after the longest
        prompt, each attending only to its own prefix (a 4D attention mask with matching position ids). Equal to
        ``score_choices`` up to floating-point reduction order."""
        ...


class WhiteBox(Model, Protocol):
    @property
    def n_layers(self) -> int:
        """Layers of the residual stream after the embeddings (white-box layers are 0..n_layers)."""
        ...

    def hidden_states(self, prompts: Sequence[Prompt]) -> list[Any]:
        """Per prompt, the residual stream as a float32 array [layers + 1, tokens, width] (the embeddings, then
        after each layer) over the prompt as the model reads it."""
        ...

    def residuals_at(self, prompts: Sequence[Prompt], cots: Sequence[str], offsets: Sequence[Sequence[int]],
                     layers: Sequence[int]) -> list[Any]:
        """Per prompt, a float32 array [len(offsets) + 1, len(layers), width]: the residual stream at chosen layers
        (0 = the embeddings, i = after layer i) at the last token that ends at or before each character offset of
        ``cot`` (the CoT as it appears in the prompt's last assistant message, or its prefill), then at the
        prompt's last token."""
        ...


class Ablates(Model, Protocol):
    @property
    def n_layers(self) -> int: ...

    def score_ablated(self, prompts: Sequence[Prompt], letters: Sequence[Sequence[str]], cots: Sequence[str],
                      spans: Sequence[tuple[int, int]], layer: int, mode: str) -> list[list[float]]:
        """What ``score_choices`` returns, with the residual stream at ``layer`` (0 = the embeddings, i = after
        layer i) replaced, at the tokens of the character span ``spans[i]`` of ``cots[i]`` in prompt i, by zeros
        (``mode`` "zero") or by its mean over the CoT's tokens in the same prompt ("mean"). Done with forward hooks
        that are removed on exit, also on error."""
        ...


class Served(Model, Protocol):
    """A model behind a server: probed once before use, its requests counted, its token counts worth caching."""

    @property
    def stats(self) -> dict[str, int]:
        """Requests, retries and letters scored below the top-k, for this invocation."""
        ...

    def prepare(self, probe: Prompt | None = None) -> None:
        """Probe the server once (with an answer prompt of the run's task, when given)."""
        ...


class Renders(Model, Protocol):
    def render(self, prompt: Prompt) -> str:
        """The prompt as the model reads it: its chat template applied, then the prefill."""
        ...

    @property
    def eos_token_id(self) -> int | None:
        """The tokenizer's end-of-sequence token."""
        ...


class Rollouts(Model, Protocol):
    def rollouts(self, prompts: Sequence[Prompt], settings: GenerationSettings,
                 seeds: Sequence[Sequence[int]]) -> list[list[str]]:
        """Per prompt, one continuation per seed in ``seeds[i]``: continuation r is what
        ``generate([prompt], settings, seeds[i][r])`` returns (equal up to floating-point near-ties), computed so
        that many continuations of one prompt are cheap: a local backend reads the prompt once and shares its KV
        cache among them, batched; a served one sends them concurrently."""
        ...


class RanksNextTokens(Model, Protocol):
    def next_token_logprobs(self, prompts: Sequence[Prompt], k: int) -> list[list[tuple[str, float]]]:
        """Per prompt, the k most likely next tokens (as text) with their log-probabilities."""
        ...


C = TypeVar("C")


@dataclass(frozen=True)
class Capability(Generic[C]):
    """An ability a backend declares by ``name`` in ``capabilities``; ``C`` is the protocol that types it."""

    name: str

    def __str__(self) -> str:
        return self.name


GENERATE: Capability[Model] = Capability("generate")
SCORE_CHOICES: Capability[Model] = Capability("score_choices")
COUNT_TOKENS: Capability[Model] = Capability("count_tokens")
SCORE_PREFIXES: Capability[ScoresPrefixes] = Capability("score_prefixes")
HIDDEN_STATES: Capability[WhiteBox] = Capability("hidden_states")
ABLATE: Capability[Ablates] = Capability("ablate")
SERVED: Capability[Served] = Capability("served")
RENDERS: Capability[Renders] = Capability("render")
RANKS_NEXT_TOKENS: Capability[RanksNextTokens] = Capability("next_token_logprobs")
ROLLOUTS: Capability[Rollouts] = Capability("rollouts")


def names(*caps: Capability[Any]) -> frozenset[str]:
    """What a backend's ``capabilities`` returns: the names of its abilities."""
    return frozenset(c.name for c in caps)


def has(model: Model, cap: Capability[Any]) -> bool:
    return cap.name in model.capabilities


def require(model: Model, cap: Capability[C], who: str) -> C:
    """``model`` typed as ``cap``'s protocol; fails early, naming ``who`` needs it, when the model lacks it."""
    if not has(model, cap):
        spec = model.identity.spec
        raise CotlensError(f"{who} needs the '{cap.name}' capability, which model {spec} does not have")
    return cast(C, model)  # the backend declared it: its methods are there (the protocol types them)


def optional(model: Model, cap: Capability[C]) -> C | None:
    """``model`` typed as ``cap``'s protocol, or None when it lacks it."""
    return cast(C, model) if has(model, cap) else None


def sample_rollouts(model: Model, prompts: Sequence[Prompt], settings: GenerationSettings,
                    seeds: Sequence[Sequence[int]]) -> list[list[str]]:
    """``Rollouts.rollouts`` on any model: the backend's own where it has one, else one ``generate`` call per
    seed (each with every prompt that has that seed), which gives the same continuations."""
    fast = optional(model, ROLLOUTS)
    if fast is not None:
        return fast.rollouts(prompts, settings, seeds)
    out: list[list[str]] = [["" for _ in s] for s in seeds]
    for seed in dict.fromkeys(x for s in seeds for x in s):
        at = [(i, r) for i, s in enumerate(seeds) for r, x in enumerate(s) if x == seed]
        for (i, r), text in zip(at, model.generate([prompts[i] for i, _ in at], settings, seed), strict=True):
            out[i][r] = text
    return out


class LocalModel:
    """What the in-process backends (transformers, organisms) share: an identity fixed at load time, the same
    capabilities, and the checks of the white-box methods' arguments."""

    _identity: ModelIdentity

    @property
    def identity(self) -> ModelIdentity:
        return self._identity

    @property
    def capabilities(self) -> frozenset[str]:
        return names(GENERATE, SCORE_CHOICES, COUNT_TOKENS, HIDDEN_STATES, SCORE_PREFIXES, ABLATE, RANKS_NEXT_TOKENS,
                     ROLLOUTS)

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
            raise CotlensError(f"a prompt of {n_tokens} tokens is longer than {self._identity.spec}'s context of "
                               f"{ctx} tokens")

    @property
    def n_layers(self) -> int:
        """Layers of the residual stream after the embeddings (white-box layers are 0..n_layers)."""
        raise NotImplementedError

    def _check_layer(self, layer: int) -> None:
        if not 0 <= layer <= self.n_layers:
            raise CotlensError(f"layer {layer} out of range: {self._identity.spec} has layers 0 (embeddings) "
                               f"to {self.n_layers}")

    def _check_ablation(self, layer: int, mode: str) -> None:
        if mode not in ABLATION_MODES:
            raise CotlensError(f"ablation mode must be one of {', '.join(ABLATION_MODES)}, got {mode!r}")
        self._check_layer(layer)


REASONING_MARK = "\x00cotlens-reasoning:"
"""Prefixed by an API backend to a generated text whose reasoning is not the model's raw reasoning (a provider's
summary, or withheld), so that what it is survives the call cache; ``read_reasoning`` takes it off. Model text
never holds NUL (``mark_reasoning`` drops any)."""


def mark_reasoning(kind: str, text: str) -> str:
    """A backend's generated ``text`` marked with what its reasoning is (``cotlens.types.REASONING_KINDS``); raw
    reasoning is left unmarked."""
    text = text.replace("\x00", "")
    return text if kind == "raw" else f"{REASONING_MARK}{kind}\x00{text}"


def read_reasoning(text: str) -> tuple[str, str]:
    """(kind, text) of a generated text (``mark_reasoning``): "raw" for an unmarked one."""
    if text.startswith(REASONING_MARK):
        kind, _, rest = text[len(REASONING_MARK):].partition("\x00")
        return kind, rest
    return "raw", text


def unmarked(texts: Sequence[str]) -> list[str]:
    """Generated texts without their reasoning marks (``mark_reasoning``): for callers that use the text only."""
    return [read_reasoning(t)[1] for t in texts]
