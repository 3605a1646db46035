"""Inspect logs as monitor episodes: ``cotlens monitor --episodes LOG.eval`` and ``cotlens inspect-episodes``.

Two kinds of log are read:

- a log of a cotlens Inspect task (``cotlens/hints``, ``cotlens/lanham`` with ``counterfactual_edits``): each
  sample's scores hold the cotlens records, and its metadata the sample and the trace, so the episodes are the ones
  a ``cotlens run`` directory of the same records gives (``Metric.episodes``: hinted CoTs, labelled by whether the
  answer moved to the hint's target);
- any other Inspect log, an agent's transcripts: one episode per sample, its trajectory kept turn by turn
  (``Episode.messages``: each message's role, text, reasoning, tool calls and tool results), so monitors read it
  within the scopes of ``cotlens.monitors.trajectory`` and say which turn raised their suspicion. Flattened for the
  monitors that read an episode flat: its CoT is the reasoning and text of every assistant message but the last,
  and the last one's reasoning; its action the last assistant message's text and tool calls
  (``name(arguments)``); its prompt the system and user messages. The label (``misbehaved``) is the sample's
  ``misbehaved`` metadata (true or false; none leaves the episode unlabelled) or, with ``label_scorer``, that
  scorer's value read as Inspect reads values as numbers (``C`` 1, ``I`` 0, booleans, numbers): misbehaved when at
  least 0.5. So the scorer must be one that marks misbehaviour.

A file Inspect cannot read, or a label that is not one, stops the read with one line naming the file (and the
sample).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from cotlens.metrics import get_metric
from cotlens.models.inspect_api import message_parts, public_args
from cotlens.monitors.trajectory import flatten
from cotlens.types import TURN_ROLES, CotlensError, Episode, Record, Sample, ToolCall, Trace, Turn


def _label(sample: Any, label_scorer: str, where: str) -> bool | None:
    from inspect_ai.scorer import value_to_float

    if label_scorer:
        score = (sample.scores or {}).get(label_scorer)
        if score is None:
            have = ", ".join(sample.scores or {}) or "none"
            raise CotlensError(f"{where}: no score {label_scorer!r} (its scorers: {have})")
        return bool(value_to_float()(score.value) >= 0.5)
    v = (sample.metadata or {}).get("misbehaved")
    if v is None:
        return None  # unlabelled: monitors count what they flag (--fail-above), and it can be labelled later
    if not isinstance(v, bool):
        raise CotlensError(f"{where}: metadata 'misbehaved': expected true or false, got {json.dumps(v)} (or name "
                           "the scorer that marks misbehaviour: --label-scorer)")
    return v


def transcript_episode(ident: str, messages: list[Any], misbehaved: bool | None, where: str, **fields: Any) -> Episode:
    """An episode from an Inspect conversation: the CoT, the action and the prompt as the module docstring says;
    ``fields``: the Episode's other fields."""
    said = [m for m in messages if m.role == "assistant"]
    if not said:
        raise CotlensError(f"{where}: no assistant message (nothing the model wrote)")
    turns, kinds = [], set()
    for m in messages:
        if m.role not in TURN_ROLES:
            continue
        reasoning, text, kind = message_parts(m)
        if m.role == "assistant":
            kinds.add(kind)
        calls = tuple(ToolCall(c.function, json.dumps(c.arguments, sort_keys=True), c.id or "")
                      for c in (getattr(m, "tool_calls", None) or []))
        turns.append(Turn(m.role, text, reasoning, calls, getattr(m, "function", None) or "",
                          getattr(m, "tool_call_id", None) or ""))
    cot, action = flatten(turns)
    prompt = "\n".join(f"{m.role}: {m.text}" for m in messages if m.role in ("system", "user"))
    ep = Episode(id=ident, cot=cot, action=action, misbehaved=misbehaved, prompt=prompt, messages=tuple(turns),
                 **fields)
    worst = next((k for k in ("redacted", "summary") if k in kinds), "raw")
    if worst != "raw":  # monitors still read it, labelled: the provider's summary or nothing, not the reasoning
        ep = dataclasses.replace(ep, metadata={**ep.metadata, "reasoning": worst})
    return ep


def _transcript_episode(sample: Any, label_scorer: str, where: str) -> Episode:
    return transcript_episode(str(sample.id) + (f"#{sample.epoch}" if sample.epoch and sample.epoch > 1 else ""),
                              list(sample.messages or []), _label(sample, label_scorer, where), where,
                              group=str(sample.id), behavior=f"scorer {label_scorer}" if label_scorer else "",
                              metadata={"epoch": sample.epoch, "source": "inspect"})


def log_model_spec(log: Any) -> str:
    """The model an Inspect log evaluated, as a cotlens spec (``inspect:PROVIDER/MODEL?ARGS``), secrets left out."""
    args = public_args(log.eval.model_args or {})
    base = f"inspect:{log.eval.model}"
    return f"{base}?{urlencode(args)}" if args else base


def episodes_from_inspect_log(path: Path, label_scorer: str = "") -> tuple[list[Episode], str]:
    """The episodes of an Inspect log (see the module docstring), and the spec of the model it evaluated."""
    try:
        from inspect_ai.log import read_eval_log
    except ImportError:
        raise CotlensError(f"{path}: reading an Inspect log needs inspect_ai: pip install 'cotlens[inspect]'") from None
    try:
        log = read_eval_log(str(path))
    except Exception as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise CotlensError(f"{path}: not a readable Inspect log ({type(e).__name__}: {first})") from None
    if not log.samples:
        raise CotlensError(f"{path}: an Inspect log with no samples (status {log.status})")
    cotlens = [s for s in log.samples if "cotlens_sample" in (s.metadata or {})]
    out: list[Episode] = []
    if cotlens:
        pool = [Sample.from_dict(s.metadata["cotlens_sample"]) for s in cotlens]
        metrics = set()
        for s in cotlens:
            if "cotlens_trace" not in s.metadata:
                continue  # the solver failed on it: no CoT
            sample, trace = Sample.from_dict(s.metadata["cotlens_sample"]), Trace.from_dict(s.metadata["cotlens_trace"])
            for score in (s.scores or {}).values():
                rec = (score.metadata or {}).get("record")
                if rec is None:
                    continue
                r = Record.from_dict(rec)
                metrics.add(r.metric)
                metric = get_metric(r.metric)
                if metric.episodes is not None:
                    out += metric.episodes(r, sample, trace, pool)
        if not out:
            raise CotlensError(f"{path}: none of its metrics ({', '.join(sorted(metrics)) or 'no records'}) gives "
                               "episodes; evaluate cotlens/hints")
    else:
        out = [_transcript_episode(s, label_scorer, f"{path}: sample {s.id!r}") for s in log.samples]
    return out, log_model_spec(log)
