"""Named random streams."""

import numpy as np
import pytest

from wfm.rng import STREAMS, stream, stream_keys


def test_first_streams_equal_format1_spawn():
    data, learner = np.random.SeedSequence(7).spawn(2)
    np.testing.assert_array_equal(
        stream(7, "data").random(5), np.random.default_rng(data).random(5)
    )
    np.testing.assert_array_equal(
        stream(7, "learner").random(5), np.random.default_rng(learner).random(5)
    )


def test_streams_are_independent_and_reproducible():
    draws = {name: stream(3, name).random(4) for name in STREAMS}
    assert len({tuple(v) for v in draws.values()}) == len(STREAMS)
    np.testing.assert_array_equal(stream(3, "init").random(4), draws["init"])
    assert stream_keys()["local_entropy"] == [STREAMS.index("local_entropy")]


def test_unknown_stream():
    with pytest.raises(ValueError, match="unknown random stream 'noise'"):
        stream(0, "noise")
