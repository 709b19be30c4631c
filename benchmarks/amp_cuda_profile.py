"""Per-kernel times of one AMP iteration on the GPU (N = 10^5, alpha = 0.7) and a few
launch-geometry variants; prints a table. Run on the device machine."""

import time

import numpy as np
from numba import cuda

from wfm.kernels import amp_cuda as A
from wfm.kernels._cuda import TPB, reduce_rows
from wfm.patterns import random_instance


def timed(fn, reps=5):
    fn()
    cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    cuda.synchronize()
    return (time.perf_counter() - t0) / reps * 1e3


def profile(store, labels, n, p, dt):
    """Milliseconds per launch of each kernel of one iteration, and variants."""
    rng = np.random.default_rng(0)
    m = (0.5 * (2 * rng.random(n) - 1)).astype(dt)
    z = np.zeros
    e = A.AMPEngine(store, labels, m, z(p, dt), z(n, dt), z(n, dt), z(n, dt))
    st = e._state
    out = {
        "iteration": timed(lambda: e.iteration(damping=0.5)),
        "prep": timed(lambda: A._prep[e._nb_n, TPB](st["m"], e._mp, e._wp, e._pn)),
        "fm": timed(lambda: e._fm(e._mp, 0.0)),
        "ftg": timed(lambda: e._ftg(st["g"])),
        "reduce": timed(lambda: reduce_rows[1, TPB](e._pn, e._nb_n, e._scal, 0, False)),
        "copy_scal": timed(lambda: e._scal.copy_to_host()),
    }
    for nch in (8, 32, 128):
        e._nch = nch
        e._part = cuda.device_array((nch, n), e.dtype)
        out[f"ftg_nch{nch}"] = timed(lambda: e._ftg(st["g"]))
    for nb in (1024, 16384, p):
        e._nb_rows = nb
        e._pe = cuda.device_array((1, nb), np.float64)
        out[f"fm_rows{nb}"] = timed(lambda: e._fm(e._mp, 0.0))
    return out


if __name__ == "__main__":
    n, alpha = 100001, 0.7
    p = int(alpha * n)
    for kind in ("bits", "int8"):
        store, labels = random_instance(0, p, n, kind)
        out = profile(store, labels, n, p, "float32")
        print(kind, "float32", {k: round(v, 2) for k, v in out.items()}, flush=True)
