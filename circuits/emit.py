"""Emit a circuit as JSON and summarize it for people (pure Python).

The CLI wires :func:`emit` to ``zkdl circuit emit``."""

from __future__ import annotations

import os

from zkdl.circuits.ir import Circuit

__all__ = ["emit", "summary"]


def emit(circuit: Circuit, path_or_file, *, indent: int | None = 1) -> None:
    """Write the readable JSON rendering (canonical dict + digest + stats) to a path or a
    text file object. ``Circuit.from_json`` reads it back (stats are recomputed)."""
    text = circuit.to_json(indent=indent) + "\n"
    if hasattr(path_or_file, "write"):
        path_or_file.write(text)
        return
    path = os.fspath(path_or_file)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(text)
    os.replace(tmp, path)


def _fmt(n) -> str:
    return "?" if n is None else f"{n:,}"


def summary(circuit: Circuit) -> str:
    """A short human summary: shape, tensors, relation families, committed values per
    step and range-check bits."""
    c, cfg = circuit, circuit.config
    st = c.stats()
    o = c.options
    lines = [
        f"circuit {c.digest()[:16]}  method {c.method}  steps T={c.steps}  layers L={cfg.layers}",
        f"  dims {list(c.dims)}  batch {cfg.batch_size}  R={cfg.R} Q={cfg.Q}  eta={cfg.lr_num}/2^{cfg.lr_shift}"
        f"  update_bits={cfg.update_bits}",
        f"  range strategy {o['range_strategy']}  check W[t0]: {o['check_initial_weights']}"
        f"  check dataset: {o['check_dataset']}  dataset rows: {o['n_samples'] if o['n_samples'] is not None else 'from statement'}",
        f"  tensors: {len(c.tensors)} stacks ("
        + ", ".join(f"{k} {sum(1 for t in c.tensors if t.kind == k)}"
                    for k in ("committed", "derived_linear", "derived_product", "public")) + ")",
        "  relation families: " + ", ".join(f"{k} {v}" for k, v in st["relation_families"].items())
        + f" (total {len(c.relations)})",
        f"  committed values per step: {_fmt(st['committed_per_step']['total'])}",
    ]
    for k, v in st["committed_per_step"]["by_tensor"].items():
        lines.append(f"    {k:<12} {_fmt(v):>14}")
    lines.append(f"  range-checked bits per step: {_fmt(st['range_bits_per_step']['total'])}")
    lines.append(f"  once per proof (statement range checks): {_fmt(st['statement_committed']['total'])} bits"
                 + "".join(f"; {k} {_fmt(v)}" for k, v in st["statement_committed"]["by_tensor"].items()))
    lines.append(f"  committed (stacked, padded) per proof: {_fmt(st['committed_padded'])}")
    return "\n".join(lines)
