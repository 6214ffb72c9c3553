"""Prover arithmetic backends: ``cpu`` (numba limb vectors), ``reference`` (Python ints)
and ``cuda`` (CuPy device vectors, :mod:`zkdl.prover.cuda_backend`).

The claim reductions (:mod:`zkdl.prover.reductions`), claim batching and the
aggregated prover do all their field arithmetic through one of these objects, so the
same protocol code runs on fast vectors or on plain Python lists. The reference
backend is the oracle: both must produce byte-identical proofs under a fixed seed
(tests/test_backends.py). It is meant for tiny sizes only. (Commitments and Hyrax
openings use the shared arkworks-based code in both; their arithmetic is
cross-checked against py_ecc in the Hyrax tests.)

Vectors are an opaque "native" type per backend (FrVec / list of canonical ints);
tensors handed in may also be int64 numpy arrays (flattened row-major).
"""

from __future__ import annotations

import numpy as np

from zkdl import poly
from zkdl.field import P


class SumcheckBackend:
    """``sumcheck``, the same for every backend: zkdl.prover.sumcheck.prove_sumcheck on
    the backend's sumcheck primitives (stack_tables, product_sum, round_evals,
    fold_stack, final_evals; see there). The claim, when given, is not checked."""

    def sumcheck(self, transcript, tables, eq_point=None, claim=None, messenger=None, terms=None):
        from zkdl.prover.sumcheck import prove_sumcheck
        return prove_sumcheck(transcript, tables, eq_point=eq_point, claim=claim, check_claim=False,
                              messenger=messenger, backend=self, terms=terms)

    def round_evals_terms(self, stack, deg: int, idx, claims) -> list[list[int]]:
        """Per product term (table indices ``idx[u]``, running claim ``claims[u]``), its
        g_u(0..deg) of the current round (claims None: the first round, g_u(1) computed);
        by default from sub-stacks of each term."""
        out = []
        for ix, cl in zip(idx, claims):
            sub = self.substack(stack, ix)
            out.append(self.round_evals(sub, deg, self.product_sum(sub) if cl is None else cl))
        return out


class CpuBackend(SumcheckBackend):
    name = "cpu"

    def __init__(self, threads=None):
        self.threads = threads
        from zkdl.field.vector import FrVec
        from zkdl.prover import mle, sumcheck
        self._FrVec, self._mle, self._sc = FrVec, mle, sumcheck

    def vec(self, t):
        if isinstance(t, self._FrVec):
            return t
        return self._FrVec.from_int64(np.asarray(t, dtype=np.int64).reshape(-1), self.threads)

    def from_ints(self, values):
        return self._FrVec.from_ints(values)

    def to_ints(self, v) -> list[int]:
        return self.vec(v).to_ints()

    def length(self, v) -> int:
        return len(v) if isinstance(v, self._FrVec) else int(np.asarray(v).size)

    def scale(self, v, c: int):
        return self.vec(v).scale(c % P, self.threads)

    def add_scalar(self, v, c: int):
        return self.vec(v).add_scalar(c % P, self.threads)

    def add(self, v, w):
        return self.vec(v).add(self.vec(w), self.threads)

    def mul(self, v, w):
        return self.vec(v).mul(self.vec(w), self.threads)

    def slice(self, v, lo: int, hi: int):
        return self.vec(v)[lo:hi]

    def eq_table(self, r):
        return self._mle.eq_table(list(r), self.threads)

    def repeat_each(self, v, times: int):
        return self._FrVec(np.ascontiguousarray(np.repeat(self.vec(v).limbs, times, axis=1)))

    def partial_evaluate(self, t, shape, points):
        data = t if isinstance(t, self._FrVec) else np.asarray(t, dtype=np.int64).reshape(-1)
        return self._mle.partial_evaluate(data, shape, {a: list(p) for a, p in points.items()}, self.threads)

    def evaluate(self, t, point) -> int:
        n = self.length(t)
        out, _ = self.partial_evaluate(t, (n,), {0: list(point)})
        return out.to_ints()[0]

    # the sumcheck primitives (zkdl.prover.sumcheck): a stack is a (k, 8, n) limb array
    def stack_tables(self, tables):
        return np.ascontiguousarray(np.stack([t.limbs for t in tables]))

    def product_sum(self, stack) -> int:
        return self._sc.product_sum([self._FrVec(t) for t in stack], self.threads)

    def substack(self, stack, idx):
        return np.ascontiguousarray(stack[list(idx)])

    def round_evals(self, stack, deg: int, claim: int) -> list[int]:
        return self._sc._round_evals(stack, deg, claim, self.threads)

    def round_evals_terms(self, stack, deg: int, idx, claims) -> list[list[int]]:
        return self._sc._round_evals_terms(stack, deg, idx, claims, self.threads)

    def fold_stack(self, stack, r: int):
        return self._mle.fold_stack(stack, r, self.threads)

    def final_evals(self, stack) -> list[int]:
        return self._FrVec(np.ascontiguousarray(stack[:, :, 0].T)).to_ints()


class ReferenceBackend(SumcheckBackend):
    """Python-int vectors; the textbook algorithms of zkdl.poly."""

    name = "reference"

    def vec(self, t) -> list[int]:
        if isinstance(t, list):
            return t
        return [int(x) % P for x in np.asarray(t, dtype=np.int64).reshape(-1)]

    def from_ints(self, values) -> list[int]:
        return [v % P for v in values]

    def to_ints(self, v) -> list[int]:
        return list(self.vec(v))

    def length(self, v) -> int:
        return len(v) if isinstance(v, list) else int(np.asarray(v).size)

    def scale(self, v, c: int):
        return [x * c % P for x in self.vec(v)]

    def add_scalar(self, v, c: int):
        return [(x + c) % P for x in self.vec(v)]

    def add(self, v, w):
        return [(a + b) % P for a, b in zip(self.vec(v), self.vec(w))]

    def mul(self, v, w):
        return [a * b % P for a, b in zip(self.vec(v), self.vec(w))]

    def slice(self, v, lo: int, hi: int):
        return self.vec(v)[lo:hi]

    def eq_table(self, r):
        return poly.eq_table(list(r))

    def repeat_each(self, v, times: int):
        return [x for x in self.vec(v) for _ in range(times)]

    def partial_evaluate(self, t, shape, points):
        return poly.partial_evaluate(self.vec(t), shape, {a: list(p) for a, p in points.items()})

    def evaluate(self, t, point) -> int:
        return poly.evaluate(self.vec(t), list(point))

    # the sumcheck primitives (zkdl.prover.sumcheck): a stack is a list of tables
    def stack_tables(self, tables):
        return list(tables)

    def substack(self, stack, idx):
        return [stack[j] for j in idx]

    def product_sum(self, stack) -> int:
        total = 0
        for i in range(len(stack[0])):
            v = 1
            for t in stack:
                v = v * t[i] % P
            total += v
        return total % P

    def round_evals(self, stack, deg: int, claim: int) -> list[int]:
        h = len(stack[0]) // 2
        evals = [0] * (deg + 1)
        for x in [0] + list(range(2, deg + 1)):
            total = 0
            for i in range(h):
                v = 1
                for t in stack:
                    v = v * (t[i] + x * (t[i + h] - t[i])) % P
                total += v
            evals[x] = total % P
        evals[1] = (claim - evals[0]) % P
        return evals

    def fold_stack(self, stack, r: int):
        return [poly.fold(t, r) for t in stack]

    def final_evals(self, stack) -> list[int]:
        return [t[0] for t in stack]


def get_backend(name: str = "cpu", threads=None):
    if name == "cpu":
        return CpuBackend(threads)
    if name == "reference":
        return ReferenceBackend()
    if name == "cuda":
        # raises zkdl.errors.BackendUnavailable (naming what is missing) without CuPy/GPU
        from zkdl.prover.cuda_backend import CudaBackend
        return CudaBackend(threads)
    raise ValueError(f"unknown prover backend {name!r} (cpu, reference, cuda)")
