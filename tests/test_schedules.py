"""Declarative schedules: forms, values at an epoch, one-line errors at the boundary."""

import math

import pytest

from wfm.config import LearnerSpec
from wfm.errors import ConfigError
from wfm.learners.schedules import Schedule, parse_schedule, schedule_check
from wfm.params import greater


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.5, [0.5, 0.5, 0.5]),
        (2, [2.0, 2.0, 2.0]),
        (["const", 3], [3.0, 3.0, 3.0]),
        (["linear", 0.05, 0.001], [0.05, 0.051, 0.052]),
        (["linear", 1.0, -0.5, 0.2], [1.0, 0.5, 0.2]),
        ({"kind": "linear", "start": 0.05, "step": 0.001}, [0.05, 0.051, 0.052]),
        (["exp", 1.0, 1.0], [1.0, 2.0, 4.0]),
        (["exp", 1.0, 1.0, 3.0], [1.0, 2.0, 3.0]),
        ({"kind": "exp", "start": 2.0, "rate": -0.5}, [2.0, 1.0, 0.5]),
        (["step", 1.0, 0.5, 2], [1.0, 1.0, 0.5]),
        ({"kind": "step", "start": 1, "factor": 3, "every": 1, "stop": 5}, [1, 3, 5]),
        ({"kind": "const", "value": 7}, [7.0, 7.0, 7.0]),
    ],
)
def test_values_at_epochs(value, expected):
    s = parse_schedule(value)
    assert isinstance(s, Schedule)
    assert [s(t) for t in range(3)] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "value",
    [
        "fast", [], ["exp"], ["exp", 1.0], ["exp", 1, 2, 3, 4], ["cubic", 1, 2],
        ["linear", "a", 1], {"kind": "linear", "start": 1}, {"start": 1, "step": 1},
        {"kind": "exp", "start": 1, "rate": 0.1, "speed": 2}, math.nan, True,
        ["exp", 1.0, -1.0], ["step", 1.0, 0.5, 0.5], ["step", 1.0, -2.0, 1],
        ["linear", 1.0, -0.1],
    ],
)  # fmt: skip
def test_malformed_schedules_are_refused(value):
    with pytest.raises(ValueError, match="must"):
        parse_schedule(value)


def test_value_constraint_checked_on_start_and_end():
    check = schedule_check(greater(0.0))
    assert check(0.1) is None
    assert check(["exp", 0.1, -0.5]) is None  # decays towards 0, never reaches it
    assert check(-1) == "must be > 0, got -1.0"
    assert "values must be > 0, got -0.5" in check(["linear", 1.0, -0.5, -0.5])
    assert check.text == "schedule, values > 0"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"lr": -1}, "learner.lr must be > 0, got -1.0"),
        ({"gamma": ["exp", 0.5]}, "learner.gamma must be a number, "),
        ({"gamma": "slow"}, "learner.gamma must be a number, a list or a table"),
        ({"gamma": {"kind": "linear", "start": 0.0, "step": 0.1}},
         "learner.gamma values must be > 0, got 0.0"),
    ],
)  # fmt: skip
def test_config_errors_are_one_line(params, message):
    with pytest.raises(ConfigError) as info:
        LearnerSpec("sgd-ce", params)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_schedule_params_round_trip():
    gamma = {"kind": "linear", "start": 0.05, "step": 1e-3}
    spec = LearnerSpec("rsgd", {"gamma": gamma})
    again = LearnerSpec("rsgd", dict(spec.params))
    assert again == spec
