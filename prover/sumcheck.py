"""Sumcheck prover for sum_x eq(r_eq, x)^e prod_j T_j(x) (see zkdl.sumcheck).

Per round, with the tables' halves lo/hi (leading variable 0/1), the prover
evaluates g(t) = sum_i prod_j (lo_j[i] + t (hi_j[i] - lo_j[i])) at t = 0..d by
repeated addition of the differences (k - 1 products per point for k tables), interpolates
the coefficients, absorbs them, draws the challenge and folds every table. The eq
factor, when present, is materialised as one more table (2^n multiplications).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zkdl.field import P
from zkdl.field.vector import FrVec, chunks, _executor, limb_sums_to_int
from zkdl.poly import interpolate, poly_eval
from zkdl.prover import kernels as PK
from zkdl.prover.mle import eq_table, fold_stack
from zkdl.sumcheck import SumcheckProof, absorb_statement


@dataclass
class SumcheckProverResult:
    proof: SumcheckProof
    point: tuple[int, ...]
    table_evals: list[int]  # each T_j at the point (eq excluded)
    eq_eval: int | None  # eq(r_eq, point) when an eq factor was used
    claim: int


def _round_evals(stack: np.ndarray, deg: int, claim: int, threads) -> list[int]:
    """g(0..deg) of the current round; g(1) = claim - g(0) saves one product per pair."""
    h = stack.shape[2] // 2
    parts = chunks(h, threads)
    if len(parts) == 1:
        accs = [PK.k_round_evals(stack, deg, 0, h)]
    else:
        accs = [f.result() for f in [_executor().submit(PK.k_round_evals, stack, deg, lo, hi)
                                     for lo, hi in parts]]
    total = np.sum(np.stack(accs).astype(object), axis=0)
    evals = [limb_sums_to_int(total[t]) for t in range(deg + 1)]
    evals[1] = (claim - evals[0]) % P
    return evals


def product_sum(tables, threads: int | None = None) -> int:
    """sum_x prod_j T_j(x), the claim of a sumcheck without eq factor."""
    acc = tables[0]
    for t in tables[1:]:
        acc = acc.mul(t, threads)
    return acc.sum(threads)


class PlainMessenger:
    """Sends round polynomials in the clear (zkdl.sumcheck's format). The zero-knowledge
    messenger (zkdl.prover.zksumcheck) commits to them instead; both return the
    verifier's challenge for each round."""

    def __init__(self, transcript):
        self.t = transcript

    def start(self, claim: int, num_vars: int, degree: int) -> None:
        absorb_statement(self.t, claim, num_vars, degree)

    def round(self, coeffs) -> int:
        self.t.absorb_scalars(b"sumcheck/round", coeffs)
        return self.t.challenge_scalar(b"sumcheck/challenge")


def sumcheck_vars(tables, eq_point) -> int:
    """The variable count of a sumcheck over ``tables`` (and an eq factor at ``eq_point``);
    ValueError unless they share one power-of-two length matching the point."""
    if not tables and eq_point is None:
        raise ValueError("sumcheck needs at least one table")
    n_entries = len(tables[0]) if tables else 1 << len(eq_point)
    if n_entries < 1 or n_entries & (n_entries - 1) or any(len(t) != n_entries for t in tables):
        raise ValueError("sumcheck tables must share one power-of-two length")
    num_vars = n_entries.bit_length() - 1
    if eq_point is not None and len(eq_point) != num_vars:
        raise ValueError(f"eq point has {len(eq_point)} coordinates, tables have {num_vars} variables")
    return num_vars


def prove_sumcheck(transcript, tables, eq_point=None, claim: int | None = None,
                   threads: int | None = None, check_claim: bool = True,
                   messenger=None) -> SumcheckProverResult:
    """Prove claim = sum_x eq(eq_point, x)^e prod_j tables[j](x) (e = eq_point is not None).

    ``tables`` are FrVecs of one length 2^n; ``claim`` is computed if not given.
    A given claim is checked against the tables unless ``check_claim=False`` (tests
    use that to show the verifier, not the prover, rejects a false claim); g(1) of
    each round is derived from the running claim, so a false claim yields a proof
    that fails verification.
    """
    tables = list(tables)
    num_vars = sumcheck_vars(tables, eq_point)
    all_tables = list(tables)
    if eq_point is not None:
        all_tables.append(eq_table(eq_point, threads))
    degree = len(all_tables)
    if claim is None:
        claim = product_sum(all_tables, threads)
    elif check_claim and product_sum(all_tables, threads) != claim % P:
        raise ValueError("sumcheck prover: the tables do not sum to the claim")
    stack = np.ascontiguousarray(np.stack([t.limbs for t in all_tables]))
    msg = messenger if messenger is not None else PlainMessenger(transcript)
    msg.start(claim, num_vars, degree)
    rounds, point = [], []
    running = claim
    for _ in range(num_vars):
        evals = _round_evals(stack, degree, running, threads)
        coeffs = interpolate(evals)
        r = msg.round(coeffs)
        rounds.append(tuple(coeffs))
        point.append(r)
        running = poly_eval(coeffs, r)
        stack = fold_stack(stack, r, threads)
    finals = [FrVec(np.ascontiguousarray(stack[j])).to_ints()[0] for j in range(stack.shape[0])]
    eq_val = finals.pop() if eq_point is not None else None
    return SumcheckProverResult(SumcheckProof(tuple(rounds)), tuple(point), finals, eq_val, claim)
