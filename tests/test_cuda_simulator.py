"""The CUDA kernels' tests (tests/cuda) under numba's simulator, in a subprocess:
the simulator must be switched on before numba is imported, and the rest of the suite
must not run with it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_cuda_kernels_under_the_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-W", "ignore::DeprecationWarning", str(ROOT / "tests" / "cuda")],
        env=env, capture_output=True, text=True, cwd=ROOT, timeout=1500,
    )  # fmt: skip
    tail = out.stdout[-3000:] + out.stderr[-2000:]
    assert out.returncode == 0, tail
    assert " passed" in out.stdout and " failed" not in out.stdout, tail
