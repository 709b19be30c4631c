"""Named errors and warnings for failures that are not obvious from a traceback."""


class WfmError(Exception):
    """Base class of wfm's own errors."""


class ConfigError(WfmError, ValueError):
    """A run configuration is invalid.

    Cause: a value out of range, an unknown name, or an unreadable TOML file.
    Fix: the message names the field and the accepted values; correct it and rerun.
    """


class RunFileError(WfmError, OSError):
    """A run file cannot be read, created or written as a wfm run.

    Cause: the file is missing, truncated, not HDF5, of an unknown
    ``format_version``, or its folder cannot be written (a parent is a file,
    permission denied, disk full). Fix: the one-line message names the path and the
    remedy (another ``--out``, ``--force``, ``--resume``, or upgrading wfm).
    """


class RunLockedError(RunFileError):
    """Another wfm process holds the lock of this run file.

    Cause: a run, resume or ``append_group`` on the same ``F.h5`` is in progress (it
    holds ``F.h5.lock``; the message gives its pid). Nothing was written. Fix: wait for
    it to finish, or choose another ``--out``.
    """


class RunExistsError(RunFileError):
    """The output path already holds a run (complete, or an unfinished ``.partial``).

    Cause: ``F.h5`` or ``F.h5.partial`` exists; nothing was written. Fix: use
    ``--force`` to overwrite (a complete file is replaced only when the new run
    completes), ``wfm run --resume F.h5`` to continue an unfinished run, or another
    ``--out``.
    """


class RunIncompleteError(RunFileError):
    """The run file is not complete (its status is running, failed or interrupted).

    Cause: the run was stopped before it finished, so it cannot be measured or
    appended to. Fix: resume it with ``wfm run --resume F.h5`` (or rerun with
    ``--force``).
    """


class RunCorruptError(RunFileError):
    """A run file (or its checkpoint) failed validation: its bytes are damaged.

    Cause: a dataset's checksum (fletcher32) or compression stream does not match, or
    the HDF5 structure is broken (disk error, a partial copy, a file edited by hand).
    Fix: rerun with ``--force`` or restore the file from a backup; the damaged file is
    never modified by wfm.
    """


class RunInterrupted(WfmError):
    """The run was stopped by a signal after saving a checkpoint.

    Raised by learners on SIGINT/SIGTERM once a checkpoint is written; the run file
    is marked ``interrupted`` and kept as ``F.h5.partial`` with ``F.h5.ckpt``. Fix:
    continue it with ``wfm run --resume F.h5``.
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
