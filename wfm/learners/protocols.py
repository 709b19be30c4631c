"""Focusing protocols: sequences of (gamma, y) for focusing BP [P0].

``y`` replicas coupled to a centre with coupling ``gamma`` (``tanh(gamma)`` is the
"polarisation" of the reference code) are traced out exactly; each protocol raises the
coupling and/or ``y`` step by step, as in carlobaldassi/BinaryCommitteeMachineFBP.jl:

* ``standard``: classical reinforcement, ``gamma = inf``, ``y = 1/(1 - rho)``,
  ``rho = 0, dr, 2 dr, ..., 1 - dr``;
* ``pseudo``: pseudo-reinforcement, ``gamma = atanh(rho^x)``,
  ``y = 1 + rho^(1 - 2x)/(1 - rho)`` (``x = 1/2`` by default);
* ``scoping``: fixed ``y``, ``gamma = gamma_start, gamma_start + gamma_step, ...,
  gamma_stop``;
* ``free``: an explicit list of ``[gamma, y]`` pairs.
"""

import math

import numpy as np

PROTOCOL_NAMES = ("standard", "pseudo", "scoping", "free")


def focusing_protocol(
    name,
    *,
    dr=0.002,
    x=0.5,
    y=None,
    gamma_start=0.0,
    gamma_step=0.1,
    gamma_stop=10.0,
    schedule=None,
):
    """List of ``(gamma, y)`` pairs of the focusing protocol ``name``.

    Parameters
    ----------
    name : {"standard", "pseudo", "scoping", "free"}
    dr : float
        Step of ``rho`` in ``[0, 1)`` for ``standard`` and ``pseudo``.
    x : float
        Exponent of the pseudo-reinforcement.
    y : float
        Number of replicas for ``scoping``.
    gamma_start, gamma_step, gamma_stop : float
        Coupling range for ``scoping``.
    schedule : list of (gamma, y)
        The explicit list for ``free``.
    """
    if name == "standard":
        return [(math.inf, 1.0 / (1.0 - rho)) for rho in _rhos(dr)]
    if name == "pseudo":
        out = []
        for rho in _rhos(dr):
            if x == 0:  # rho^0 = 1: infinite coupling, standard reinforcement
                gamma = math.inf
            else:
                gamma = math.atanh(rho**x) if rho > 0 else 0.0
            power = 1.0 if x == 0.5 else (rho ** (1 - 2 * x) if rho > 0 else 0.0)
            out.append((gamma, 1.0 + power / (1.0 - rho)))
        return out
    if name == "scoping":
        if y is None:
            raise ValueError("the scoping protocol needs learner.y")
        gammas = np.arange(gamma_start, gamma_stop + 0.5 * gamma_step, gamma_step)
        return [(float(g), float(y)) for g in gammas]
    if name == "free":
        if not schedule:
            raise ValueError("the free protocol needs learner.schedule = [[gamma, y]]")
        return [(float(g), float(yy)) for g, yy in schedule]
    raise ValueError(f"unknown protocol {name!r}; choose one of {PROTOCOL_NAMES}")


def _rhos(dr):
    n = int(round(1.0 / dr))
    return [k * dr for k in range(n)]
