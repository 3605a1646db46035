"""Prompting for a chain of thought, splitting it into steps, and reading answers.

The prompts are ``cotlens.prompts`` (Lanham et al. 2023, Table 1). The answer is the choice letter with the
highest next-token probability after the answer prompt's prefill.

Step splitting rules (``split_steps``), documented because every truncation metric depends on them:

1. Each non-empty line is split separately: a line break always ends a step (lists, equations).
2. Within a line a step ends after ``.``, ``!`` or ``?`` (with any closing quotes or brackets), when followed
   by white space and then anything but a lower-case letter, except after a common abbreviation (e.g., i.e.,
   etc., Mr., Dr., vs., approx., no., fig.), a single-letter initial, or a list number at the start of a line
   (``1.``). A decimal point (``3.5``) is never followed by white space, so it never splits.
3. Steps are stripped of surrounding white space; each keeps its character span in the CoT.

The paper used NLTK's punkt splitter; these rules give the same splits on plain arithmetic CoTs and need no
downloaded data (punkt's model cannot be fetched at run time here).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cotlens.models.base import Model, read_reasoning, unmarked
from cotlens.prompts import Turns, answer_prompt, elicit_prompt
from cotlens.tasks.freeform import equivalent, extract, rule_of
from cotlens.types import FREE_ANSWER, LETTERS, GenerationSettings, Prompt, Sample, Step, Trace

_ABBREV = {"e.g", "i.e", "etc", "mr", "mrs", "ms", "dr", "vs", "approx", "no", "fig", "st", "jr", "sr", "cf"}
_END = re.compile(r"[.!?]+[\"')\]]*(?=\s)")


def split_steps(text: str) -> tuple[Step, ...]:
    """Split a CoT into steps (sentences) by the rules in this module's docstring."""
    steps: list[Step] = []
    pos = 0
    for line in text.splitlines(keepends=True):
        start = pos
        pos += len(line)
        body = line.rstrip("\r\n")
        cut = 0
        for m in _END.finditer(body):
            end = m.end()
            rest = body[end:].lstrip()
            if not rest or rest[0].islower():
                continue
            word = body[cut:m.start()].split()[-1:] if body[cut:m.start()].split() else []
            w = word[0].lower().strip("(\"'") if word else ""
            if w in _ABBREV or (len(w) == 1 and w.isalpha() and m.group().startswith(".")):
                continue
            if w.isdigit() and not body[cut:m.start()].strip()[:-len(w)].strip():
                continue  # "1." enumerator at the start of the step
            _add(steps, body, cut, end, start)
            cut = end
        _add(steps, body, cut, len(body), start)
    return tuple(steps)


def _add(steps: list[Step], body: str, a: int, b: int, offset: int) -> None:
    seg = body[a:b]
    stripped = seg.strip()
    if stripped:
        lead = len(seg) - len(seg.lstrip())
        s = offset + a + lead
        steps.append(Step(stripped, s, s + len(stripped)))


def join_steps(cot: str, steps: Sequence[Step], k: int) -> str:
    """The CoT cut after its first ``k`` steps (the original text up to the end of step k)."""
    if k <= 0:
        return ""
    return cot[: steps[k - 1].end]


def _letters_re(n: int) -> str:
    return f"[{LETTERS[:n]}]"


def extract_answer(text: str, choices: Sequence[str]) -> int | None:
    """The choice a text names as its answer, or None. Tries, in order (the last match of each wins):
    "answer is (B)" / "answer: B" / "answer is B"; "**B**"; "(B)"; "B)" at a word start; then the choice's
    own text after "answer is", or the one choice whose number appears in the text's last sentence (none when
    several do)."""
    n = len(choices)
    L = _letters_re(n)
    t = text.strip()
    lower = f"[{LETTERS[:n].lower()}{LETTERS[:n]}]"
    patterns = [
        # "answer is B" (an upper-case letter: "the answer is a number" names no choice)
        rf"(?i:answer)\s*(?:(?i:is)|:|=)?\s*(?:(?i:option|choice)\s*)?[\(\[]?\**\s*({L})\s*\**[\)\]]?(?![A-Za-z0-9])",
        # "answer: (d)": a bracketed letter in either case
        rf"(?i:answer)\s*(?:(?i:is)|:|=)?\s*[\(\[]({lower})[\)\]]",
        rf"\*\*\s*\(?({L})\)?[\.:]?\s*\*\*",
        rf"\(({L})\)",
        rf"(?:^|\s)({L})\)",
    ]
    for pat in patterns:
        hits = re.findall(pat, t)
        if hits:
            letter = hits[-1].upper()
            if letter in LETTERS[:n]:
                return LETTERS.index(letter)
    m = list(re.finditer(r"answer\s*(?:is|:|=)\s*(.+)", t, flags=re.IGNORECASE))
    if m:
        said = m[-1].group(1).strip().rstrip(".").strip("* ")
        for i, c in enumerate(choices):
            if said.lower() == c.lower():
                return i
    tail = re.split(r"(?<=[.!?])\s+", t)[-1] if t else ""
    nums = set(re.findall(r"-?\d+(?:\.\d+)?", tail))
    matches = [i for i, c in enumerate(choices) if c.strip() in nums]
    if len(matches) == 1:
        return matches[0]
    for i, c in enumerate(choices):
        if len(c) > 3 and re.search(rf"\b{re.escape(c)}\b", tail, flags=re.IGNORECASE):
            others = [j for j, d in enumerate(choices) if j != i and d.lower() in tail.lower()]
            if not others:
                return i
    return None


def clean_cot(generated: str) -> str:
    """The CoT as generated, stripped; text after a role marker the model invented is dropped."""
    cut = re.split(r"\n\s*(?:Human|User|Question)\s*:", generated, maxsplit=1)[0]
    return cut.strip()


MALFORMED_MASS = 0.5
"""An answer is malformed when the choices' letters hold less than this next-token probability."""


def choice_mass(logprobs: Sequence[float]) -> float:
    """Total probability of the choices (``score_choices`` returns unnormalised log-probabilities)."""
    return float(sum(math.exp(x) for x in logprobs))


def choice_probs(logprobs: Sequence[float]) -> list[float]:
    """The choices' probabilities renormalised to sum to 1."""
    top = max(logprobs)
    e = [math.exp(x - top) for x in logprobs]
    total = sum(e)
    return [x / total for x in e]


def argmax(xs: Sequence[float]) -> int:
    return max(range(len(xs)), key=lambda i: xs[i])


FREE_ANSWER_SETTINGS = GenerationSettings(max_new_tokens=24, temperature=0.0)
"""How a free-form answer is read: greedy, a few tokens after the forced-answer prefill."""
AnswerKey = int | str | None
"""An answer as metrics compare them: a choice's index, or a free-form sample's extracted answer (None: none)."""


@dataclass(frozen=True)
class Answer:
    key: AnswerKey
    """Multiple choice: the choice with the highest next-token probability; free-form: the answer extracted from
    the generated text by the sample's rule (``cotlens.tasks.freeform``), None when it finds none."""
    logprobs: list[float] | None = None
    """Multiple choice: each choice letter's log-probability as the next token."""
    raw: str = ""
    """Free-form: the text generated after the prefill, from which ``key`` was extracted."""

    @property
    def mass(self) -> float | None:
        """The choices' total probability (multiple choice)."""
        return None if self.logprobs is None else choice_mass(self.logprobs)

    @property
    def malformed(self) -> bool:
        """No answer: the choices hold under ``MALFORMED_MASS``, or nothing was extracted from a free text."""
        return self.key is None if self.logprobs is None else choice_mass(self.logprobs) < MALFORMED_MASS

    def details(self) -> dict[str, object]:
        """What a record keeps of it."""
        return {"answer": self.key, "logprobs": self.logprobs} if self.logprobs is not None else {
            "answer": self.key, "answer_raw": self.raw}


Scorer = Callable[[Sequence[Prompt], Sequence[Sequence[str]]], list[list[float]]]


def read_each(model: Model, samples: Sequence[Sample], prompts: Sequence[Prompt], scorer: Scorer | None = None
              ) -> list[Answer]:
    """The answer after each of ``prompts`` (``prompts[i]`` an answer prompt of ``samples[i]``): the argmax choice
    for a multiple-choice sample (``scorer``, by default the model's ``score_choices``: one call for them all), or
    for a free-form sample a greedy short generation (``FREE_ANSWER_SETTINGS``, one call for them all) and its
    extraction."""
    out: list[Answer | None] = [None] * len(prompts)
    choice = [i for i, s in enumerate(samples) if s.free is None]
    if choice:
        lps = (scorer or model.score_choices)([prompts[i] for i in choice], [samples[i].letters for i in choice])
        for i, lp in zip(choice, lps, strict=True):
            out[i] = Answer(argmax(lp), list(lp))
    free = [(i, s.free) for i, s in enumerate(samples) if s.free is not None]
    if free:
        texts = unmarked(model.generate([prompts[i] for i, _ in free], FREE_ANSWER_SETTINGS, 0))
        for (i, f), t in zip(free, texts, strict=True):
            out[i] = Answer(extract(t, rule_of(f)), None, t)
    return [a for a in out if a is not None]


def read_answers(model: Model, sample: Sample, prompts: Sequence[Prompt], scorer: Scorer | None = None
                 ) -> list[Answer]:
    """``read_each`` for answer prompts of one sample."""
    return read_each(model, [sample] * len(prompts), prompts, scorer)


def correct(sample: Sample, key: AnswerKey) -> bool:
    """Whether an answer is the sample's: the gold choice, or equivalent to the free-form target."""
    if sample.free is None:
        return key == sample.answer
    return isinstance(key, str) and equivalent(key, sample.free.target, rule_of(sample.free))


def trace_answer(trace: Trace) -> Answer:
    """The answer after the full CoT, as ``read_answers`` gives one."""
    if trace.answer == FREE_ANSWER:
        return Answer(trace.answer_text, None, trace.answer_raw)
    return Answer(trace.answer, list(trace.answer_logprobs))


def trace_key(trace: Trace) -> AnswerKey:
    """The answer after the full CoT, as ``Answer.key``."""
    return trace_answer(trace).key


def elicit(
    model: Model, samples: Sequence[Sample], settings: GenerationSettings, seed: int,
    turns: Sequence[Turns | None] | None = None,
) -> list[Trace]:
    """Generate a CoT for each sample (one batch call) and read the answer after the full CoT; ``turns``, per
    sample, replaces the plain question with another conversation (a hinted one)."""
    convs = list(turns) if turns is not None else [None] * len(samples)
    prompts = [elicit_prompt(s, t) for s, t in zip(samples, convs, strict=True)]
    read = [read_reasoning(t) for t in model.generate(prompts, settings, seed)]
    kinds = [k for k, _ in read]
    cots = [clean_cot(t) for _, t in read]
    answers = read_each(model, samples, [answer_prompt(s, c, t) for s, c, t in zip(samples, cots, convs, strict=True)])
    traces = []
    for s, prompt, cot, kind, a in zip(samples, prompts, cots, kinds, answers, strict=True):
        traces.append(
            Trace(
                sample_id=s.id,
                prompt=prompt,
                cot=cot,
                steps=split_steps(cot),
                stated_answer=extract_answer(cot, s.choices) if s.free is None else None,
                answer=a.key if isinstance(a.key, int) and s.free is None else FREE_ANSWER,
                answer_logprobs=tuple(a.logprobs or ()),
                cot_tokens=model.count_tokens(cot),
                model=model.identity,
                generation=settings,
                seed=seed,
                answer_text=a.key if isinstance(a.key, str) else None,
                answer_raw=a.raw,
                reasoning=kind,
            )
        )
    return traces
