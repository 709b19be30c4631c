"""Helpers shared by the analysis scripts: arguments, CSV, curves read through the
public API (:func:`wfm.open_run`, :func:`wfm.table`)."""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import numpy as np

import wfm


def parser(description: str, default_out: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("results", nargs="+", help="results folder(s) of wfm sweep")
    p.add_argument(
        "--out", default=default_out,
        help=f"output PNG; the CSV goes beside it (default {default_out})",
    )  # fmt: skip
    return p


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_csv(rows: list[dict], path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    return path


def outputs(out) -> tuple[Path, Path]:
    png = Path(out)
    png.parent.mkdir(parents=True, exist_ok=True)
    return png, png.with_suffix(".csv")


def runs(folders, where=None) -> list[dict]:
    """Catalog records of complete runs in ``folders`` (``wfm.table`` columns)."""
    out = []
    for folder in folders:
        recs = wfm.sweep.catalog_records(folder)
        if where:
            recs = wfm.sweep.filter_records(recs, where)
        out += [r for r in recs if r.get("status") == "complete"]
    return out


def ratio_at(path, distances, group="/local_entropy/solution"):
    """S(d)/H2(d) of a stored curve at ``distances`` (linear interpolation on the
    converged points of the downward scan; NaN outside the measured range)."""
    g = wfm.open_run(path).group(group)
    d = np.asarray(g["distance"], float)
    s = np.asarray(g["local_entropy"], float)
    h = np.asarray(g["upper_bound"], float)
    ok = np.asarray(g["converged"], bool) & (d > 0) & (h > 0)
    if "branch" in g.arrays:
        ok &= np.asarray(g["branch"]) == 0
    d, r = d[ok], s[ok] / h[ok]
    order = np.argsort(d)
    d, r = d[order], r[order]
    out = np.full(len(distances), math.nan)
    if len(d) >= 2:
        inside = (np.asarray(distances) >= d[0]) & (np.asarray(distances) <= d[-1])
        out[inside] = np.interp(np.asarray(distances)[inside], d, r)
    return out


def has_group(path, group="/local_entropy/solution") -> bool:
    return group in wfm.store.read_attrs(path)


def mean_sd(values):
    v = np.asarray([x for x in values if np.isfinite(x)], float)
    if len(v) == 0:
        return math.nan, math.nan, 0
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, len(v)
