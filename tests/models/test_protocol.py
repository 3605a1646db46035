"""The Model protocol, checked the same way on every local backend: the transformers backend (embedded
SmolLM2, float32) and the organism backend (the shipped ``faithful`` organism), by ``cotlens.testing`` (the
conformance suite third-party backends call)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cotlens.models.base import HIDDEN_STATES, has
from cotlens.models.spec import load_model
from cotlens.organisms.model import shipped
from cotlens.testing import CHECKS, BackendCase, check_backend, check_scores_batched_equal_single, default_case
from cotlens.types import CotlensError

HAVE_ORGANISM = "faithful" in shipped()


@pytest.fixture(params=["smollm2", "organism:faithful"])
def backend(request: pytest.FixtureRequest) -> BackendCase:
    if request.param == "smollm2":
        return default_case(request.getfixturevalue("smollm2_fp32"))
    if not HAVE_ORGANISM:
        pytest.skip("the faithful organism is not shipped")
    return default_case(load_model("organism:faithful", batch_size=3), "repeat3",
                        ["", "B=A+1=1.", "B=A+1=1. C=1+1=2.", "B=A+1=1. C=1+1=2. D=2+1=3."])


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_conformance_suite(backend: BackendCase, check: Callable[[BackendCase], bool]) -> None:
    """``cotlens.testing``, the suite a third-party backend's tests call, on the shipped backends."""
    assert check(backend)  # every check applies to the shipped local backends


def test_local_identity_names_weights_and_dtype(backend: BackendCase) -> None:
    ident = backend.model.identity
    assert ident.dtype == "float32" and has(backend.model, HIDDEN_STATES)
    assert ident.revision.startswith("sha256:") and len(ident.revision) == 71


def test_the_suite_catches_a_backend_that_breaks_the_protocol() -> None:
    """A backend whose scores depend on the batch, or whose identity is a dict, fails with the reason."""
    from fakes import ScriptedModel

    class BatchDependent(ScriptedModel):
        def score_choices(self, prompts, letters):  # type: ignore[no-untyped-def]
            return [[-1.0 - 0.1 * len(prompts)] * len(le) for le in letters]

    case = default_case(BatchDependent(lambda p: "A"))
    with pytest.raises(AssertionError, match="batched and single scores differ"):
        check_scores_batched_equal_single(case)
    assert check_backend(default_case(ScriptedModel(lambda p: "A")))["check_hidden_states"] == "not applicable"


def test_require_narrows_to_the_capability_or_fails_early() -> None:
    """Typed capabilities: ``require`` returns the model typed as the ability's protocol, or says who needs it."""
    from cotlens.models.base import ABLATE, RENDERS, WhiteBox, optional, require
    from fakes import ScriptedModel

    organism = load_model("organism:faithful")
    white: WhiteBox = require(organism, HIDDEN_STATES, "a probe")
    assert white is organism and white.n_layers == 3
    assert optional(organism, RENDERS) is None  # an organism has no chat template
    scripted = ScriptedModel(lambda p: "A")
    with pytest.raises(CotlensError, match="step_ablation needs the 'ablate' capability, which model scripted does "
                                           "not have"):
        require(scripted, ABLATE, "step_ablation")
    assert not has(scripted, HIDDEN_STATES)
