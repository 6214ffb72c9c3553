"""Stacked, padded integer tensors for one proof window (prover side).

:func:`build_tables` turns the tracer's per-step tensors (zkdl.tracer docstring) into
every stack :mod:`zkdl.verifier.flow` names, as flat int64 arrays in the padded
stacked layout of :mod:`zkdl.verifier.plan`: committed bit stacks, sign bits, the
statement's weight and dataset stacks, and every derived stack the reductions
need tables of. Padding entries and padded instances hold the value 0 (so bit
stacks hold the bits of the offset there).
"""

from __future__ import annotations

import numpy as np

from zkdl.errors import OverflowBoundError
from zkdl.verifier.flow import stack_shape
from zkdl.verifier.plan import Plan


def to_bits(values: np.ndarray, offset: int, nbits: int, planes: int, what: str) -> np.ndarray:
    """Bit planes (last axis) of values + offset, which must lie in [0, 2^nbits)."""
    u = values.astype(np.int64) + offset
    if u.size and (int(u.min()) < 0 or int(u.max()) >= 1 << nbits):
        raise OverflowBoundError(f"{what}: value outside its {nbits}-bit range "
                                 f"[{-offset}, {(1 << nbits) - offset}) (min {int(u.min()) - offset}, "
                                 f"max {int(u.max()) - offset})")
    out = np.zeros(values.shape + (planes,), dtype=np.int8)
    for k in range(nbits):
        out[..., k] = (u >> k) & 1
    return out


def _place(dst: np.ndarray, idx: int, src: np.ndarray) -> None:
    dst[(idx,) + tuple(slice(0, s) for s in src.shape)] = src


def build_tables(plan: Plan, steps, X: np.ndarray, Yd: np.ndarray, W0: list, Wf: list) -> dict:
    """All stacks for the window. ``steps``: the T StepTraces; ``X``/``Yd``: the dataset
    (N x d_0 features, N x d_L one-hot targets times 2^R); ``W0``/``Wf``: weights per
    layer (index 0 = layer 1) before the first and after the last step of the window."""
    L = plan.L
    tabs: dict[str, np.ndarray] = {}

    def zeros(name):
        return np.zeros(stack_shape(plan, name), dtype=np.int64)

    # dataset and data stacks
    for name, arr in (("X", X), ("Y", Yd)):
        t = zeros(name)
        t[:arr.shape[0], :arr.shape[1]] = arr
        tabs[name] = t
    A0, Ysel = zeros("A0"), zeros("Ysel")
    for t, st in enumerate(steps):
        _place(A0, t, st["A_0"])
        _place(Ysel, t, st["Y"])
    tabs["A0"], tabs["Ysel"] = A0, Ysel

    for fam in plan.families:
        F = fam.index
        names = ["S", "Zp", "RZv", "GAv", "RGv", "A", "GZ", "Ain", "W", "DWv", "RWv", "Wn", "GZn", "W0", "Wf"]
        st_tabs = {n: zeros(f"{n}/{F}") for n in names if fam.relu or n not in ("S", "GAv", "RGv", "A", "Wn", "GZn")}
        for lf, layer in enumerate(fam.layers):
            _place(st_tabs["W0"], lf, W0[layer - 1])
            _place(st_tabs["Wf"], lf, Wf[layer - 1])
            for t, st in enumerate(steps):
                i = plan.inst(fam, t, lf)
                put = lambda n, v: _place(st_tabs[n], i, v)  # noqa: E731
                put("Zp", st["Zp", layer])
                put("RZv", st["remZ", layer])
                put("GZ", st["G_Z", layer])
                put("Ain", st["A", layer - 1] if layer > 1 else st["A_0"])
                put("W", st["W", layer])
                put("DWv", st["dW", layer])
                put("RWv", st["remW", layer])
                if fam.relu:
                    put("S", st["S", layer])
                    put("A", st["A", layer])
                    put("GAv", st["G_Ap", layer])
                    put("RGv", st["remGA", layer])
                    put("Wn", st["W", layer + 1])
                    put("GZn", st["G_Z", layer + 1])
        for n, v in st_tabs.items():
            tabs[f"{n}/{F}"] = v
        # committed bit stacks
        src = {"U": st_tabs["Zp"] + ((1 << (plan.Q - 1)) * st_tabs["S"] if fam.relu else 0),
               "RZ": st_tabs["RZv"], "DW": st_tabs["DWv"], "RW": st_tabs["RWv"], "W0B": st_tabs["W0"]}
        if fam.relu:
            src["GA"], src["RG"] = st_tabs["GAv"], st_tabs["RGv"]
        for kind, f2, shape in plan.committed():
            if f2.index != F or kind in ("S", "XB"):
                continue
            bits = to_bits(src[kind], plan.offset(kind, fam), plan.value_bits(kind, fam), shape[-1],
                           f"layer family {F} ({kind})")
            tabs[f"{kind}/{F}"] = bits
    for kind, fam, shape in plan.committed():
        if kind == "XB":
            tabs["XB/0"] = to_bits(tabs["X"], plan.offset("XB", fam), plan.value_bits("XB", fam), shape[-1],
                                   "dataset features")
    if L < 1:
        raise ValueError("a network needs at least one layer")
    return tabs
