"""The probe monitor: a linear probe on the residual stream of the model that wrote the episodes.

The episode is read back by that model as Lanham et al.'s answer prompt (its task, its CoT, "Given all of the
above, ...") and the residual stream is taken at the last token of the CoT (scope ``cot``), at the point where it
gives its answer (``action``: the decision the action comes from), or both concatenated (``all``). A logistic
regression (``cotlens.stats.logistic_proba``, L2 as scikit-learn's C = 1) on these features predicts
``misbehaved``; it is cross-fitted in folds by problem (as ``latent_probe``'s folds are by question), so each
episode's suspicion is P(misbehaved) from a probe that never saw its problem.

It reads the hidden states, not the text: it may see what a CoT leaves out, and it is trained on labels, unlike the
rule and LLM monitors, which are not. Its numbers are those of a supervised detector given the same episodes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cotlens.models.base import WhiteBox
from cotlens.monitors.base import SCOPES, Suspicion
from cotlens.monitors.evaluate import folds_by_problem
from cotlens.prompts import parse_transcript, turns_answer_prompt
from cotlens.stats import logistic_proba
from cotlens.types import CotlensError, Episode

PROBE_VERSION = 1


class ProbeMonitor:
    version = PROBE_VERSION
    fitted = True

    def __init__(self, name: str, model: WhiteBox, layer: int | None = None, seed: int = 0) -> None:
        self.name = name
        self.model = model
        self.layer = model.n_layers if layer is None else layer
        self.seed = seed
        self._states: dict[tuple[str, ...], np.ndarray] = {}

    def features(self, episodes: Sequence[Episode], scope: str) -> np.ndarray:
        """[episodes, width] (``cot``, ``action``) or [episodes, 2 * width] (``all``); one forward pass per
        episode, kept for the other scopes."""
        key = tuple(e.id for e in episodes)
        if key not in self._states:
            prompts = [turns_answer_prompt(parse_transcript(e.prompt), e.cot) for e in episodes]
            feats = self.model.residuals_at(prompts, [e.cot for e in episodes], [[len(e.cot)] for e in episodes],
                                            [self.layer])
            # each [2 (end of CoT, answer point), 1 layer, width]
            self._states = {key: np.stack([np.asarray(f[:, 0], dtype=np.float64) for f in feats])}
        states = self._states[key]
        if scope == "cot":
            return states[:, 0]
        if scope == "action":
            return states[:, 1]
        return states.reshape(len(episodes), -1)

    def read(self, episodes: Sequence[Episode], scope: str) -> list[Suspicion]:
        """Needs all the episodes at once (it is fitted across them); held-out P(misbehaved) for each."""
        if scope not in SCOPES:
            raise CotlensError(f"unknown monitor scope {scope!r}; scopes: {', '.join(SCOPES)}")
        if not episodes:
            return []
        x = self.features(episodes, scope)
        y = np.asarray([e.misbehaved for e in episodes])
        folds = np.asarray(folds_by_problem([e.problem for e in episodes], seed=self.seed))
        p = np.zeros(len(episodes))
        for f in np.unique(folds):
            test = folds == f
            classes, proba = logistic_proba(x[~test], y[~test], x[test])
            p[test] = proba[:, list(classes).index(True)] if True in classes else 0.0
        return [Suspicion(float(v), f"held-out P(misbehaved) = {v:.3f} (layer {self.layer})") for v in p]
