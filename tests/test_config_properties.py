"""Property tests of the config: every model x learner spec round-trips exactly."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from wfm.config import DataSpec, LearnerSpec, ModelSpec, RunSpec
from wfm.learners import get_learner, learner_names
from wfm.models import MODELS, get_model

_SIZES = {"perceptron-binary": (51, 1), "perceptron-spherical": (51, 1),
          "committee-tree": (51, 3),
          "committee-full": (51, 3), "parity": (51, 3)}  # fmt: skip


def _pairs():
    return [
        (m, ln)
        for m, info in MODELS.items()
        if info.supported
        for ln in info.learners
        if ln in learner_names()
    ]


def _value(param, draw):
    """A valid random value of a declared parameter (drawn with hypothesis)."""
    default = param.default_for(None)
    if param.type == "bool":
        return draw(st.booleans())
    if param.type in ("int",):
        lo = int(default) if default >= 1 else 0
        value = draw(st.integers(lo, lo + 50))
    elif param.type in ("float", "float+inf"):
        value = draw(st.floats(0.0, 0.999, allow_nan=False))
    else:
        return default
    return value if param.check is None or param.check(value) is None else default


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_every_model_learner_spec_round_trips(data):
    model, learner = data.draw(st.sampled_from(_pairs()))
    n, k = _SIZES[model]
    info = get_learner(learner)
    given_params = {}
    for p in info.params:
        if data.draw(st.booleans()):
            given_params[p.name] = _value(p, data.draw)
    try:
        spec = RunSpec(
            model=ModelSpec(model, n=n, k=k),
            data=DataSpec(data.draw(st.sampled_from(get_model(model).data_kinds)),
                          alpha=data.draw(st.floats(0.05, 2.0))),
            learner=LearnerSpec(learner, given_params),
            seed=data.draw(st.integers(0, 2**31)),
        )  # fmt: skip
    except Exception as exc:  # a cross-parameter rule may refuse a random draw
        assert type(exc).__name__ == "ConfigError", exc
        return
    again = RunSpec.from_dict(spec.to_dict())
    assert again == spec
    assert RunSpec.from_json(spec.to_json()) == spec
    assert set(spec.learner.params) == {p.name for p in info.params}
    assert not any(isinstance(v, float) and math.isnan(v)
                   for v in spec.learner.params.values())  # fmt: skip
