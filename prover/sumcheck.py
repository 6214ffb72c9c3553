"""Sumcheck prover for sum_x eq(r_eq, x)^e prod_j T_j(x) (see zkdl.sumcheck).

:func:`prove_sumcheck` is the one round loop, shared by every prover backend
(:mod:`zkdl.prover.backend`, :mod:`zkdl.prover.cuda_backend`). Per round it asks the
backend for g(0), g(2..d) (g(1) = running claim - g(0)), interpolates the coefficients,
hands them to the messenger (:class:`PlainMessenger`, or the zero-knowledge one in
:mod:`zkdl.prover.zksumcheck`), which returns the challenge, and folds every table.
The eq factor, when present, is materialised as one more table (2^n multiplications).

A backend supplies, besides ``vec`` and ``eq_table`` (native vectors), five
operations on a *stack* (its own type; the tables of one sumcheck, eq table last):

    stack_tables(tables)            the stack of native vectors of one length 2^n
    product_sum(stack)              sum_x prod_j T_j(x) (the claim, when none is given)
    round_evals(stack, deg, claim)  [g(0), ..., g(deg)] of the current round
    fold_stack(stack, r)            the stack with every table's leading variable fixed to r
    final_evals(stack)              [T_j] of a stack of one-entry tables

The cpu backend's round sums are :func:`_round_evals` below (numba, zkdl.prover.kernels):
with the tables' halves lo/hi (leading variable 0/1), g(t) = sum_i prod_j (lo_j[i] +
t (hi_j[i] - lo_j[i])) at t = 0, 2..d by repeated addition of the differences (k - 1
products per point for k tables).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zkdl.field import P
from zkdl.field.vector import chunks, _executor, limb_sums_to_int
from zkdl.poly import interpolate, poly_eval
from zkdl.prover import kernels as PK
from zkdl.prover.backend import CpuBackend
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
    return _round_evals_terms(stack, deg, [range(stack.shape[0])], [claim], threads)[0]


def _round_evals_terms(stack: np.ndarray, deg: int, idx, claims, threads) -> list[list[int]]:
    """Per term u, g_u(0..deg) of the current round (g_u(1) = claims[u] - g_u(0), or
    computed when the claims are None: the first round)."""
    h = stack.shape[2] // 2
    width = max(len(ix) for ix in idx)
    tab = np.zeros((len(idx), width), dtype=np.int64)
    for u, ix in enumerate(idx):
        tab[u, :len(ix)] = ix
    lens = np.array([len(ix) for ix in idx], dtype=np.int64)
    with1 = claims[0] is None
    parts = chunks(h, threads)
    if len(parts) == 1:
        accs = [PK.k_round_evals_terms(stack, deg, tab, lens, with1, 0, h)]
    else:
        accs = [f.result() for f in [_executor().submit(PK.k_round_evals_terms, stack, deg, tab, lens, with1, lo, hi)
                                     for lo, hi in parts]]
    total = np.sum(np.stack(accs).astype(object), axis=0)
    out = []
    for u in range(len(idx)):
        evals = [limb_sums_to_int(total[u, t]) for t in range(deg + 1)]
        if not with1:
            evals[1] = (claims[u] - evals[0]) % P
        out.append(evals)
    return out


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
                   messenger=None, backend=None, terms=None) -> SumcheckProverResult:
    """Prove claim = sum_x eq(eq_point, x)^e prod_j tables[j](x) (e = eq_point is not None),
    or with ``terms`` = [(c_k, [j, ...]), ...] a sum of products:

        claim = sum_x eq(eq_point, x)^e sum_k c_k prod_{j in term k} tables[j](x)

    (the GKR layers of LogUp, :mod:`zkdl.prover.logup`). Each term keeps its own running
    claim, so that every round polynomial is sum_k c_k g_k with g_k(1) = claim_k - g_k(0);
    the tables are folded once per round for all terms.

    ``tables`` are vectors of one length 2^n (anything ``backend.vec`` takes) and
    ``backend`` supplies the arithmetic (default: the cpu backend on ``threads``);
    ``claim`` is computed if not given. A given claim is checked against the tables
    unless ``check_claim=False`` (tests use that to show the verifier, not the prover,
    rejects a false claim); g(1) of each round is derived from the running claim, so a
    false claim yields a proof that fails verification.
    """
    be = backend if backend is not None else CpuBackend(threads)
    tabs = [be.vec(t) for t in tables]
    num_vars = sumcheck_vars(tabs, eq_point)
    if eq_point is not None:
        tabs.append(be.eq_table(eq_point))
    if terms is not None:
        return _prove_terms(be, transcript, tabs, eq_point is not None, num_vars, claim, check_claim,
                            messenger, terms)
    degree = len(tabs)
    stack = be.stack_tables(tabs)
    if claim is None:
        claim = be.product_sum(stack)
    elif check_claim and be.product_sum(stack) != claim % P:
        raise ValueError("sumcheck prover: the tables do not sum to the claim")
    msg = messenger if messenger is not None else PlainMessenger(transcript)
    msg.start(claim, num_vars, degree)
    rounds, point, running = [], [], claim
    for _ in range(num_vars):
        coeffs = interpolate(be.round_evals(stack, degree, running))
        r = msg.round(coeffs)
        rounds.append(tuple(coeffs))
        point.append(r)
        running = poly_eval(coeffs, r)
        stack = be.fold_stack(stack, r)
    finals = be.final_evals(stack)
    eq_val = finals.pop() if eq_point is not None else None
    return SumcheckProverResult(SumcheckProof(tuple(rounds)), tuple(point), finals, eq_val, claim)


def _prove_terms(be, transcript, tabs, has_eq: bool, num_vars: int, claim, check_claim: bool, messenger,
                 terms) -> SumcheckProverResult:
    """The sum-of-products round loop of :func:`prove_sumcheck`."""
    eq_ix = [len(tabs) - 1] if has_eq else []
    idx = [list(ix) + eq_ix for _, ix in terms]
    coefs = [c % P for c, _ in terms]
    if not terms or any(not ix for ix in idx) or any(j < 0 or j >= len(tabs) for ix in idx for j in ix):
        raise ValueError("sumcheck terms must each name at least one of the tables")
    degree = max(len(ix) for ix in idx)
    stack = be.stack_tables(tabs)
    if claim is None or check_claim:
        total = sum(c * be.product_sum(be.substack(stack, ix)) for c, ix in zip(coefs, idx)) % P
        if claim is None:
            claim = total
        elif total != claim % P:
            raise ValueError("sumcheck prover: the tables do not sum to the claim")
    msg = messenger if messenger is not None else PlainMessenger(transcript)
    msg.start(claim, num_vars, degree)
    claims = [None] * len(idx)    # each term's running claim, known after the first round
    rounds, point = [], []
    for _ in range(num_vars):
        parts = [interpolate(e) for e in be.round_evals_terms(stack, degree, idx, claims)]
        coeffs = [0] * (degree + 1)
        for c, part in zip(coefs, parts):
            for i, v in enumerate(part):
                coeffs[i] = (coeffs[i] + c * v) % P
        r = msg.round(coeffs)
        rounds.append(tuple(coeffs))
        point.append(r)
        claims = [poly_eval(part, r) for part in parts]
        stack = be.fold_stack(stack, r)
    finals = be.final_evals(stack)
    eq_val = finals.pop() if has_eq else None
    return SumcheckProverResult(SumcheckProof(tuple(rounds)), tuple(point), finals, eq_val, claim)
