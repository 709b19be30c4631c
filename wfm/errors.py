"""Named errors and warnings for failures that are not obvious from a traceback."""


class WfmError(Exception):
    """Base class of wfm's own errors."""


class ConfigError(WfmError, ValueError):
    """A run configuration is invalid.

    Cause: a value out of range, an unknown name, or an unreadable TOML file.
    Fix: the message names the field and the accepted values; correct it and rerun.
    """


class RunFileError(WfmError, OSError):
    """A run file cannot be read as a wfm run.

    Cause: the file is truncated (a killed run), not HDF5, or written by a wfm with an
    unknown ``format_version``. Fix: rerun (a killed run's ``.partial`` file keeps its
    trace up to the last flush), or upgrade wfm.
    """


class CudaUnavailableError(WfmError, RuntimeError):
    """``device="cuda"`` was asked for but no CUDA GPU (or simulator) is usable.

    Fix: install the ``cuda`` extra on a machine with an NVIDIA GPU, or set
    ``NUMBA_ENABLE_CUDASIM=1`` to run the CUDA kernels in numba's simulator.
    """


class BPNotConvergedWarning(RuntimeWarning):
    """Belief propagation stopped at its iteration limit before converging.

    The messages (and any free entropy computed from them) are not a fixed point; treat
    the value as unreliable. Fix: raise ``max_iters``, add damping, or lower alpha.
    """


class RunInterrupted(WfmError):
    """A run was stopped by SIGINT/SIGTERM after saving a checkpoint.

    Fix: continue it with ``wfm run --resume F.h5`` (the ``.partial`` file and its
    ``.ckpt`` checkpoint hold everything needed; the result equals an uninterrupted
    run's).
    """
