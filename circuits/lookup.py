"""What the ``logup`` range strategy looks up (pure Python, verifier-safe).

A range relation with strategy ``logup`` (:func:`zkdl.circuits.gadgets.range_value`)
checks ``x = value + offset`` in ``[0, 2^n)`` by 16-bit limbs (8-bit limbs in a circuit
with fewer than 2^17 lookups of 16-bit limbs, where the 2^16-entry table would cost more
than the lookups: the circuit option ``limb_bits``): ``x = sum_k 2^(16 k) limb_k``
with limb_k in ``[0, 2^16)`` for k below the top and the top limb in ``[0, 2^w)``,
w = n - 16 (L - 1) for L = ceil(n / 16) limbs. The limbs above the lowest are committed
tensors (``base.limb1``, ...); the lowest is derived, ``x - sum_{k>=1} 2^(16 k) limb_k``, so
a value of at most 16 bits commits nothing. Each limb is one :class:`LookupBlock`: a linear
form of tensors with one stacked layout, looked up over the whole padded stack (an honest
witness holds the limbs of the offset in the padding, where the value is 0) in the table
``[0, 2^width)`` of its width; every width has one table and one committed multiplicity
tensor per proof (relation kind ``lookup``, tensor ``logup.m<width>``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LIMB_BITS", "LookupBlock", "limb_widths", "lookup_blocks"]

LIMB_BITS = 16        # the limb width of circuits with many lookups
SMALL_LIMB_BITS = 8   # ... and of circuits with fewer than SMALL_BELOW lookups (16-bit limbs)
SMALL_BELOW = 1 << 17


@dataclass(frozen=True)
class LookupBlock:
    """Values ``const + sum coef * tensor`` (entry by entry over one stacked layout),
    each looked up in ``[0, 2^width)``."""

    relation: str
    limb: int
    terms: tuple        # ((coef, tensor name), ...), the first term's tensor gives the layout
    const: int
    width: int

    @property
    def layout(self) -> str:
        return self.terms[0][1]


def limb_widths(n: int, limb_bits: int = LIMB_BITS) -> list[int]:
    """Bit widths of the limbs of an n-bit range, lowest first (16, ..., 16, top)."""
    full, top = divmod(n, limb_bits)
    return [limb_bits] * full + ([top] if top else [])


def lookup_blocks(relations) -> dict[int, list[LookupBlock]]:
    """Every lookup of the ``logup`` range relations among ``relations`` (a circuit's, in
    IR order), by table width."""
    out: dict[int, list[LookupBlock]] = {}
    for r in relations:
        if r.kind != "range" or r.params.get("strategy") != "logup":
            continue
        value = r.operand("value").tensor
        limbs = [o.tensor for o in r.operands_with("limb")]
        lb = r.params["limb_bits"]
        widths = limb_widths(r.params["n"], lb)
        off = r.params["offset"]
        low = ((1, value),) + tuple((-(1 << (lb * k)), name) for k, name in enumerate(limbs, 1))
        out.setdefault(widths[0], []).append(LookupBlock(r.name, 0, low, off, widths[0]))
        for k, name in enumerate(limbs, 1):
            out.setdefault(widths[k], []).append(LookupBlock(r.name, k, ((1, name),), 0, widths[k]))
    return out
