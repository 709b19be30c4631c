"""Deprecated location: the BP states live in :mod:`wfm.bpstate` (kept until the
learners import from there)."""

from wfm.bpstate import PerceptronBPState as BPState

__all__ = ["BPState"]
