"""Figures from stored run files (matplotlib, Agg backend; no display needed).

:func:`plot_local_entropy` draws local-entropy curves S(d) (science.md §3) read from
``/local_entropy/<name>/`` groups of run files and ``/theory/<name>/`` groups, with the
upper bound H₂(d) = −d ln d − (1−d) ln(1−d). Points where BP did not converge (or a
theory saddle point failed) are drawn with open markers: shown, never dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wfm._math import binary_entropy as _h2

__all__ = ["curves_from_file", "plot_local_entropy"]


def curves_from_file(path):
    """Every local-entropy curve stored in ``path``.

    Both kinds of group store the format-2 curve datasets (``distance``,
    ``local_entropy``, ``converged``, and ``branch`` for BP scans; :mod:`wfm._curves`).

    Returns
    -------
    list of dict
        ``{"label", "d", "s", "converged", "kind"}`` with kind ``"run"`` (a
        ``/local_entropy`` group) or ``"theory"``.
    """
    from wfm.models import MODELS
    from wfm.store import open_run

    run = open_run(path)
    out = []
    stem = Path(path).stem
    cfg = run.config_dict
    run_label = stem
    if cfg is not None:
        model, data = cfg["model"], cfg["data"]
        run_label = (
            f"{cfg['learner']['name']}, N={model['n']}, α={data['alpha']:g}"
            f" ({data['kind']})"
        )
        info = MODELS.get(model["name"])
        if info is not None and info.hidden:
            run_label = f"{model['name']} K={model['k']}, {run_label}"
    for group in run.extra_groups():
        parts = group.strip("/").split("/")
        if len(parts) != 2 or parts[0] not in ("local_entropy", "theory"):
            continue
        g = run.group(group)
        if "distance" not in g.arrays:
            continue  # a theory group without a curve (e.g. an entropy value)
        d = np.asarray(g["distance"], float)
        if parts[0] == "local_entropy":
            ref = g.attrs.get("reference", parts[1])
            label = f"{run_label}: {ref} [{g.attrs.get('method', 'bp')}]"
            errors = int(g.attrs.get("reference_train_errors", 0))
            if errors:  # measured with --allow-errors: not a solution
                label += f" — NOT A SOLUTION ({errors} training errors)"
            kind = "run"
        else:
            label = (
                f"theory {g.attrs.get('kind', parts[1])}, "
                f"α={float(g.attrs.get('alpha', np.nan)):g}"
            )
            if "reference_k" in g.attrs:  # a tree machine's curve: say which
                label += f", {g.attrs.get('model')} K={float(g.attrs['reference_k']):g}"
            kind = "theory"
        out.append(
            {
                "label": label,
                "d": d,
                "s": np.asarray(g["local_entropy"], float),
                "converged": np.asarray(
                    g.arrays.get("converged", np.ones(len(d), bool)), bool
                ),
                "branch": g.arrays.get("branch"),
                "kind": kind,
                "not_a_solution": parts[0] == "local_entropy"
                and int(g.attrs.get("reference_train_errors", 0)) > 0,
            }
        )
    return out


def plot_local_entropy(
    paths_or_results, out, *, d_max=0.5, relative=False, title=None, dpi=110
):
    """Local-entropy curves of one or several run files (or results) vs H₂(d).

    Parameters
    ----------
    paths_or_results : path-like, result, or a list of them
        Run files (every ``/local_entropy/*`` and ``/theory/*`` curve in them is
        drawn) and/or curves — :class:`wfm.measures.local_entropy.LocalEntropyResult`
        or :class:`wfm.theory.LocalEntropyCurve`, read through their ``to_arrays()``
        — or ``(label, curve)`` pairs.
    out : path-like
        Output image (PNG, PDF, SVG, ... by extension).
    d_max : float
        Right end of the distance axis; e.g. ``0.1`` to focus on small d.
    relative : bool
        Plot S(d)/H₂(d) instead of S(d) (the bound becomes the line 1).
    title : str, optional
    dpi : int

    Returns
    -------
    Path
        ``out``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = paths_or_results
    if isinstance(items, (str, Path)) or not isinstance(items, (list, tuple)):
        items = [items]
    curves = []
    for item in items:
        if isinstance(item, (str, Path)):
            found = curves_from_file(item)
            if not found:
                raise ValueError(
                    f"{item} has no /local_entropy or /theory local-entropy curve; "
                    f"run: wfm local-entropy {item}"
                )
            curves += found
        else:
            label, res = item if isinstance(item, tuple) else (None, item)
            arrays = res.to_arrays()  # the same dataset names as in the files
            theory = hasattr(res, "kind")  # a wfm.theory.LocalEntropyCurve
            if label is None:
                label = f"theory {res.kind}" if theory else res.method
            curves.append(
                {
                    "label": label,
                    "d": np.asarray(arrays["distance"], float),
                    "s": np.asarray(arrays["local_entropy"], float),
                    "converged": np.asarray(arrays["converged"], bool),
                    "branch": arrays.get("branch"),
                    "kind": "theory" if theory else "run",
                }
            )
    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    grid = np.linspace(1e-4, d_max, 400)
    bound = _h2(grid)
    ax.plot(grid, np.ones_like(grid) if relative else bound, "k--", lw=1.2,
            label="H₂(d) (all configurations)")  # fmt: skip
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, c in enumerate(curves):
        color = colors[j % len(colors)]
        branch = c.get("branch")
        if branch is None or len(branch) != len(c["d"]):
            # format-1 files stored the raw scan's branch beside interpolated points
            branch = np.zeros(len(c["d"]), np.int8)
        n_bad = 0
        for b in np.unique(branch):  # BP scan down / up: separate lines
            sel = branch == b
            d, s, ok = c["d"][sel], c["s"][sel], c["converged"][sel]
            order = np.argsort(d, kind="stable")
            d, s, ok = d[order], s[order], ok[order]
            keep = np.isfinite(s) & (d <= d_max)
            if relative:
                with np.errstate(divide="ignore", invalid="ignore"):
                    s = s / _h2(d)
                keep &= np.isfinite(s)
            d, s, ok = d[keep], s[keep], ok[keep]
            style = "-" if c["kind"] == "run" else ":"
            if c.get("not_a_solution"):
                style = "-."  # a reference with training errors: set apart
            label = c["label"] if b == np.unique(branch)[0] else None
            # frozen BP points (d = 0: all marginals on the reference) are markers
            # only: a line to them would fake a continuous curve across the gap
            line = d > 1e-7
            ax.plot(d[line], s[line], style, color=color, lw=1.5, label=label)
            ax.plot(d[ok], s[ok], "o", color=color, ms=3.5)
            ax.plot(d[~ok], s[~ok], "o", mfc="none", mec=color, ms=6)
            n_bad += int(np.count_nonzero(~ok))
        if n_bad:
            what = "BP" if c["kind"] == "run" else "saddle point"
            ax.plot([], [], "o", mfc="none", mec=color, ms=6,
                    label=f"  {what} not converged ({n_bad} points)")  # fmt: skip
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.set_xlim(0.0, d_max)
    if relative:
        ax.set_ylim(-0.6, 1.1)
        ax.set_ylabel("S(d) / H₂(d)")
    else:
        ax.set_ylim(min(-0.02, ax.get_ylim()[0]), 1.05 * float(_h2(min(d_max, 0.5))))
        ax.set_ylabel("local entropy S(d) per weight")
    ax.set_xlabel("distance d from the reference")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right" if not relative else "lower left")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out
