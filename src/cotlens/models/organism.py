"""The organism backend: the project's own small transformers behind the same Model protocol.

``organism:NAME`` loads a checkpoint shipped in ``cotlens/organisms/checkpoints/NAME``; ``organism:PATH`` a
checkpoint directory (``model.safetensors`` + ``config.json``). Prompts are the same ``Prompt`` objects every
backend gets (built by ``cotlens.elicit``); this backend maps them onto the organism's sequence
``question|cot>answer``:

- a prompt whose assistant reply is prefilled with the CoT lead ("Let's think step by step:" plus any CoT so
  far) is continued as a CoT, up to the ``>`` that ends it;
- the answer prompt ("Given all of the above ..." after the CoT, or the prefill straight after the question)
  is scored: each choice's log-probability is that of its text after ``question|cot>``; with the free-form
  prefill (a sample without choices) the organism writes its answer after ``question|cot>`` (``generate``).

Any other prompt (a request to write a mistake, a paraphrase) is refused with a clear error: an organism only
knows its task.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import torch

from cotlens.batching import left_pad, pack_tree, packs_of, seeded_generator
from cotlens.models.base import LocalModel
from cotlens.models.hooks import residual_hook
from cotlens.organisms.model import generate, load_checkpoint, resolve, rollouts
from cotlens.organisms.tokenizer import BOS, CHARS, EOS, PAD, CharTokenizer
from cotlens.prompts import ANSWER_PREFILL, ASK_ANSWER, COT_LEAD, FREE_ANSWER_PREFILL
from cotlens.tasks.chains import organism_question
from cotlens.types import CotlensError, GenerationSettings, ModelIdentity, Prompt

_QUESTIONS = (re.compile(r"^Question: (.*?)\n\nChoices:\n", re.S), re.compile(r"^Question: (.*?)\n\nAnswer:$", re.S),
              re.compile(r"^Question: (.*?)(?:\n\n|$)", re.S))
"""A question with choices, a free-form one, and any other prompt about one (which ``parse`` then refuses)."""
_CHOICE = re.compile(r"^ \(([A-Z])\) (.*)$", re.M)


PACK_TOKENS = 1024
"""Packed tokens in one prefix-tree forward pass of ``score_prefixes``."""


class OrganismModel(LocalModel):
    """A trained organism, run on CPU in float32."""

    def __init__(self, name_or_path: str, *, spec: str, batch_size: int = 64) -> None:
        path = resolve(name_or_path)
        self.model, self.meta = load_checkpoint(path)
        self.tokenizer = CharTokenizer(self.meta.get("tokenizer", {}).get("chars", CHARS))
        self.batch_size = batch_size
        digest = hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()
        self._identity = ModelIdentity(spec, "sha256:" + digest, "float32")
        self._sep, self._end = self.tokenizer.encode("|")[0], self.tokenizer.encode(">")[0]

    def hidden_states(self, prompts: Sequence[Prompt]) -> list[Any]:
        """Per prompt, the residual stream [layers + 1, tokens, width] (float32 numpy) over the organism's input:
        ``BOS question|cot``, plus ``>`` for an answer prompt."""
        out = []
        with torch.no_grad():
            for p in prompts:
                mode, q, cot = self.parse(p)
                seq = self._prefix(q, cot) + ([self._end] if mode == "answer" else [])
                hidden = self.model(torch.tensor([seq]), output_hidden=True)[2]
                out.append(torch.stack(hidden)[:, 0].numpy())
        return out

    def count_tokens(self, text: str) -> int:
        return len(text)

    @property
    def context_length(self) -> int | None:
        return int(self.model.cfg.max_len)

    def prompt_tokens(self, prompt: Prompt) -> int:
        mode, q, cot = self.parse(prompt)
        return len(self._prefix(q, cot)) + (mode == "answer")

    def _encode(self, text: str, what: str) -> list[int]:
        try:
            return self.tokenizer.encode(text)
        except ValueError as e:
            raise CotlensError(f"organism {self._identity.spec}: {what}: {e}") from None

    def _question(self, prompt: Prompt) -> str:
        if not prompt.messages or prompt.messages[0].role != "user":
            raise CotlensError("organism prompts start with the question as a user message")
        m = next((m for r in _QUESTIONS if (m := r.match(prompt.messages[0].content))), None)
        if m is None:
            raise CotlensError(f"organism {self._identity.spec} only answers its own task's questions")
        return organism_question(m.group(1))

    def parse(self, prompt: Prompt) -> tuple[str, str, str]:
        """(mode, question, cot): mode "continue" (write the CoT on from ``cot``) or "answer"."""
        q = self._question(prompt)
        roles = [m.role for m in prompt.messages]
        if roles == ["user"] and prompt.prefill.startswith(COT_LEAD):
            return "continue", q, prompt.prefill[len(COT_LEAD):].strip()
        if roles == ["user"] and prompt.prefill in (ANSWER_PREFILL, FREE_ANSWER_PREFILL):
            return "answer", q, ""
        if (roles == ["user", "assistant", "user"] and prompt.messages[2].content == ASK_ANSWER
                and prompt.prefill in (ANSWER_PREFILL, FREE_ANSWER_PREFILL)
                and prompt.messages[1].content.startswith(COT_LEAD)):
            return "answer", q, prompt.messages[1].content[len(COT_LEAD):].strip()
        raise CotlensError(f"organism {self._identity.spec} cannot answer this kind of prompt (it only "
                           "continues and answers its task's CoTs; use --mistake-model rule)")

    def _prefix(self, q: str, cot: str) -> list[int]:
        return [BOS, *self._encode(q, "question"), self._sep, *self._encode(cot, "CoT")]

    def _continued(self, prompt: Prompt) -> list[int]:
        """What generation continues: the CoT so far, or (a free-form answer prompt) the CoT and its end, after
        which the organism writes its answer."""
        mode, q, cot = self.parse(prompt)
        if mode == "answer":
            if prompt.prefill != FREE_ANSWER_PREFILL:
                raise CotlensError("organism generation continues a CoT or writes a free-form answer; a choice is "
                                   "read with score_choices")
            return [*self._prefix(q, cot), self._end]
        return self._prefix(q, cot)

    def _text(self, new: list[int]) -> str:
        if new and new[-1] in (self._end, EOS):
            new = new[:-1]
        return self.tokenizer.decode(new)

    def generate(self, prompts: Sequence[Prompt], settings: GenerationSettings, seed: int) -> list[str]:
        seqs = [self._continued(p) for p in prompts]
        out: list[str] = []
        with torch.inference_mode():
            for i in range(0, len(seqs), self.batch_size):
                chunk = seqs[i : i + self.batch_size]
                # one generator per prompt, seeded from (seed, prompt): a sample does not depend on its batch
                gens = [seeded_generator(seed, str(s)) for s in chunk]
                out += [self._text(new) for new in generate(self.model, chunk, settings.max_new_tokens,
                                                            {self._end, EOS}, PAD, settings.temperature, gens,
                                                            top_p=settings.top_p)]
        return out

    def rollouts(self, prompts: Sequence[Prompt], settings: GenerationSettings,
                 seeds: Sequence[Sequence[int]]) -> list[list[str]]:
        """See ``ROLLOUTS``: each prompt is read once, its KV cache copied to ``batch_size`` rows at a time."""
        out: list[list[str]] = []
        with torch.inference_mode():
            for p, ss in zip(prompts, seeds, strict=True):
                seq = self._continued(p)
                texts: list[str] = []
                for i in range(0, len(ss), self.batch_size):
                    gens = [seeded_generator(sd, str(seq)) for sd in ss[i : i + self.batch_size]]
                    texts += [self._text(new) for new in rollouts(self.model, seq, settings.max_new_tokens,
                                                                  {self._end, EOS}, settings.temperature,
                                                                  settings.top_p, gens)]
                out.append(texts)
        return out

    def next_token_logprobs(self, prompts: Sequence[Prompt], k: int) -> list[list[tuple[str, float]]]:
        """For answer prompts: the question's choice letters, most likely first, each with its choice's
        log-probability (as ``score_choices``): the organism answers with a choice, named by its letter."""
        letters = [[le for le, _ in _CHOICE.findall(p.messages[0].content)] if p.messages else [] for p in prompts]
        scores = self.score_choices(prompts, letters)
        return [sorted(zip(ls, sc, strict=True), key=lambda x: -x[1])[:k] for ls, sc in zip(letters, scores,
                                                                                             strict=True)]

    # -- white-box: the residual stream at CoT positions, and ablating it ------------------------------------
    @property
    def n_layers(self) -> int:
        return self.model.cfg.n_layer

    def _cot_start(self, prompt: Prompt, cot: str) -> tuple[list[int], int]:
        """The organism's input for an answer (or continue) prompt, ``BOS question|cot`` (+ ``>`` for an answer
        prompt), and the index of the CoT's first character in it. Each character is one token."""
        mode, q, in_prompt = self.parse(prompt)
        body = cot.strip()
        # an empty CoT (a model may write none) sits right after the separator, in a prompt with no CoT text
        at = in_prompt.rfind(body) if body else (-1 if in_prompt else 0)
        if at < 0:
            raise CotlensError("the CoT is not in the prompt (white-box positions are found in the CoT's text)")
        seq = self._prefix(q, in_prompt) + ([self._end] if mode == "answer" else [])
        return seq, 2 + len(q) + at - (len(cot) - len(cot.lstrip()))

    def residuals_at(self, prompts: Sequence[Prompt], cots: Sequence[str], offsets: Sequence[Sequence[int]],
                     layers: Sequence[int]) -> list[Any]:
        """See ``HIDDEN_STATES``: one character is one token, so the token ending at offset o is the CoT's
        character o - 1 (the ``|`` before the CoT for o = 0)."""
        for layer in layers:
            self._check_layer(layer)
        out = []
        with torch.no_grad():
            for p, cot, offs in zip(prompts, cots, offsets, strict=True):
                seq, start = self._cot_start(p, cot)
                idx = [start + o - 1 for o in offs] + [len(seq) - 1]
                hidden = self.model(torch.tensor([seq]), output_hidden=True)[2]
                out.append(torch.stack([hidden[layer][0, idx] for layer in layers], 1).numpy())
        return out

    def score_ablated(self, prompts: Sequence[Prompt], letters: Sequence[Sequence[str]], cots: Sequence[str],
                      spans: Sequence[tuple[int, int]], layer: int, mode: str) -> list[list[float]]:
        """See ``ABLATE``. Each choice's text is scored after ``question|cot>`` with the CoT's span ablated."""
        self._check_ablation(layer, mode)
        module = self.model.embed if layer == 0 else self.model.blocks[layer - 1]
        rows = self._rows(prompts, letters)
        got: dict[int, float] = {}
        means: dict[tuple[int, ...], torch.Tensor] = {}  # the clean pass's mean, once per distinct prompt
        with residual_hook(module) as state, torch.no_grad():
            for i, (p, cot, (lo, hi)) in enumerate(zip(prompts, cots, spans, strict=True)):
                seq, start = self._cot_start(p, cot)
                mine = [r for r in rows if r[0] == i]
                state.clear()
                if mode == "mean":
                    if tuple(seq) not in means:
                        self.model(torch.tensor([seq]))
                        lead = len(cot) - len(cot.lstrip())
                        means[tuple(seq)] = state.pop("seen")[0, start + lead : start + lead + len(cot.strip())
                                                              ].mean(0)
                    fill = means[tuple(seq)]
                else:
                    fill = torch.zeros(self.model.cfg.d_model)
                state.update(fill=fill, target=torch.arange(start + lo, start + hi))
                for length in sorted({len(r[1]) for r in mine}):  # no padding: the span stays in place
                    group = [r for r in mine if len(r[1]) == length]
                    logp = torch.log_softmax(self.model(torch.tensor([r[1] for r in group]))[0].float(), -1)
                    for b, (_, x, n_prefix) in enumerate(group):
                        got[id(x)] = sum(float(logp[b, t - 1, x[t]]) for t in range(n_prefix, len(x)))
        return self._collect(len(prompts), rows, [got[id(r[1])] for r in rows])

    def _rows(self, prompts: Sequence[Prompt], letters: Sequence[Sequence[str]]) -> list[tuple[int, list[int], int]]:
        """(prompt index, ``BOS question|cot>`` + the choice's text, length before the choice) per choice."""
        rows: list[tuple[int, list[int], int]] = []
        for i, (p, ls) in enumerate(zip(prompts, letters, strict=True)):
            mode, q, cot = self.parse(p)
            if mode != "answer":
                raise CotlensError("organism scoring needs the answer prompt")
            texts = dict(_CHOICE.findall(p.messages[0].content))
            prefix = [*self._prefix(q, cot), self._end]
            for le in ls:
                if le not in texts:
                    raise CotlensError(f"choice ({le}) is not in the question")
                rows.append((i, prefix + self._encode(texts[le], "choice"), len(prefix)))
        return rows

    @staticmethod
    def _collect(n: int, rows: Sequence[tuple[int, list[int], int]], scores: Sequence[float]) -> list[list[float]]:
        out: list[list[float]] = [[] for _ in range(n)]
        for (i, _, _), sc in zip(rows, scores, strict=True):
            out[i].append(sc)
        return out

    def score_prefixes(self, prompts: Sequence[Prompt], letters: Sequence[Sequence[str]]) -> list[list[float]]:
        """``score_choices`` read as prefix trees (see ``SCORE_PREFIXES``): every (prompt, choice) sequence after
        its longest common prefix with its neighbour in lexicographic order, attending to that prefix and causally
        to itself, ``PACK_TOKENS`` tokens a forward pass (the calls of several records may come merged)."""
        rows = self._rows(prompts, letters)
        scores = [0.0] * len(rows)
        with torch.no_grad():
            for pack in packs_of([r[1] for r in rows], PACK_TOKENS):
                packed = pack_tree([rows[i][1] for i in pack])
                logits = self.model(torch.tensor([packed.ids]), positions=torch.tensor([packed.positions]),
                                    attn_mask=packed.allow[None, None])[0][0]
                logp = torch.log_softmax(logits.float(), -1)
                for ix, i in zip(packed.index, pack, strict=True):
                    _, x, n_prefix = rows[i]
                    scores[i] = sum(float(logp[ix[j - 1], x[j]]) for j in range(n_prefix, len(x)))
        return self._collect(len(prompts), rows, scores)

    def score_choices(self, prompts: Sequence[Prompt], letters: Sequence[Sequence[str]]) -> list[list[float]]:
        rows = self._rows(prompts, letters)
        scores: list[float] = []
        with torch.no_grad():
            for j in range(0, len(rows), self.batch_size):
                chunk = rows[j : j + self.batch_size]
                ids, mask, pos = left_pad([r[1] for r in chunk], PAD)
                logp = torch.log_softmax(self.model(ids, positions=pos, key_mask=mask)[0].float(), -1)
                width = ids.shape[1]
                for b, (_, seq, n_prefix) in enumerate(chunk):
                    off = width - len(seq)
                    scores.append(sum(float(logp[b, off + t - 1, seq[t]]) for t in range(n_prefix, len(seq))))
        return self._collect(len(prompts), rows, scores)
