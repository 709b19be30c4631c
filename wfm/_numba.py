"""One place that decides how wfm compiles its kernels.

Every kernel module imports :data:`njit` (serial) and :data:`pnjit` (``parallel=True``)
from here, so caching and fast-math are set once for the whole package (quimb's habit).
Fast-math stays off: BP kernels are checked against numpy references to 1e-10.
"""

from functools import partial

import numba

njit = partial(numba.njit, cache=True, fastmath=False, nogil=True)
pnjit = partial(numba.njit, cache=True, fastmath=False, nogil=True, parallel=True)
prange = numba.prange

__all__ = ["njit", "pnjit", "prange"]
