"""LogUp-GKR range checks, verifier side (pure Python; the prover is zkdl.prover.logup).

A range check of values v_i against the table [0, 2^w) is the logarithmic-derivative
identity (Haboeck 2022, "Multivariate lookups based on logarithmic derivatives")

    sum_i 1 / (alpha - v_i)  =  sum_j m_j / (alpha - j),

with m_j the multiplicity of table entry j among the v_i. As rational functions of alpha
the two sides agree iff every v_i is a table entry (the number of lookups is far below p);
for alpha drawn after every commitment it depends on, equality at alpha fails with
probability at most (N + 2^w) / p otherwise. Both sides are one **tree of fractions**
(Papini and Haboeck 2023, "Improving logarithmic derivative lookups using GKR"): the leaves
are (p, q) = (1, alpha - v_i) for the lookups, (-m_j, alpha - j) for the table and (0, 1)
for filler; a node combines its two children

    p = p_0 q_1 + p_1 q_0,     q = q_0 q_1,

so the root is (P, Q) with P / Q the sum of all leaf fractions, and the identity says
P = 0 (with every q nonzero: alpha is no table entry, which the verifier checks, and no
looked-up value, except with probability N / p).

Layer j of the tree has 2^j nodes; node x of layer j combines nodes (0, x) and (1, x) of
layer j + 1 (the children differ in the leading, most significant variable). A claim
p_j(r) + lambda q_j(r) on layer j is, by the multilinear extension,

    sum_x eq(r, x) [ p_{j+1}(0, x) q_{j+1}(1, x) + p_{j+1}(1, x) q_{j+1}(0, x)
                     + lambda q_{j+1}(0, x) q_{j+1}(1, x) ],

one degree-3 sumcheck over j variables (a sum of two products, see
:func:`zkdl.prover.sumcheck.prove_sumcheck`). At its point r' the prover sends the four
values p_{j+1}(b, r'), q_{j+1}(b, r') (b = 0, 1) and their three products; the verifier
checks the sumcheck's final value against them and draws mu, which moves the claim to
layer j + 1 at (mu, r'): p_{j+1}(mu, r') = (1 - mu) p(0, r') + mu p(1, r'). The root
step sends layer 1 itself and checks p(0) q(1) + p(1) q(0) = 0. After the leaf layer the
caller holds one claim on the leaf numerators and one on the leaf denominators at a
random point z, which it checks against the tensors' values (zkdl.verifier.compile).

Bounded trees (:func:`forest_layout`): leaves beyond 2^TREE_CAP_BITS go to further trees,
each of whose roots (P_k, Q_k) the prover sends (committed) and then proves from its
leaves (the first layer step checks the claim P_k + lambda Q_k directly); a last tree
over the roots (leaves (P_k, Q_k), filler (0, 1)) proves that their fractions sum to 0.

Everything goes through a channel (:mod:`zkdl.channel`): in zero-knowledge mode every
value, product and claim stays committed and the checks are Sigma proofs.
"""

from __future__ import annotations

from zkdl.channel import ReductionError, _name
from zkdl.errors import VerificationError
from zkdl.field import P, inv
from zkdl.poly import eq_eval

__all__ = ["LogupError", "forest_layout", "verify_fraction_tree", "close_layer", "table_mle", "check_alpha",
           "MAX_TREE_VARS", "TREE_CAP_BITS"]

MAX_TREE_VARS = 48
#: Trees hold at most 2^22 leaves (or one block, if larger): the prover keeps one tree's
#: layers in memory at a time; the roots of several trees are summed by a tree of their own.
TREE_CAP_BITS = 22


class LogupError(VerificationError):
    """A lookup argument failed (a challenge alpha inside the table, or a leaf check)."""


def check_alpha(alpha: int, table_bits: int) -> None:
    """The denominators alpha - j of the table must be nonzero: reject alpha in [0, 2^w)."""
    if 0 <= alpha < (1 << table_bits):
        raise LogupError(f"logup: the challenge alpha = {alpha} is an entry of the table [0, 2^{table_bits})")


def forest_layout(block_bits, cap_bits: int) -> list[tuple[int, list[tuple[int, int]]]]:
    """Aligned places of blocks of 2^b leaves in trees of at most 2^max(cap_bits, largest b)
    leaves: blocks in order of decreasing size (ties in the given order), each at the next
    offset of the current tree (then a multiple of its size), a new tree when it is full.
    Returns per tree (leaf variables n, [(block index, offset)])."""
    order = sorted(range(len(block_bits)), key=lambda i: -block_bits[i])
    cap = 1 << max([cap_bits] + list(block_bits))
    trees, placed, pos = [], [], 0
    for i in order:
        size = 1 << block_bits[i]
        if pos + size > cap:
            trees.append((max(1, (pos - 1).bit_length()), placed))
            placed, pos = [], 0
        placed.append((i, pos))
        pos += size
    trees.append((max(1, (pos - 1).bit_length()), placed))
    return trees


def block_weight(z, n: int, bits: int, offset: int) -> int:
    """eq(z_prefix, offset >> bits): the weight of a block of 2^bits leaves at ``offset`` in
    the leaf MLE at z (its leaves are then evaluated at the suffix z[n - bits:])."""
    k = n - bits
    idx = offset >> bits
    return eq_eval(list(z[:k]), [(idx >> (k - 1 - i)) & 1 for i in range(k)])


def table_mle(z) -> int:
    """The multilinear extension of j -> j over len(z) variables (most significant first)."""
    w = len(z)
    return sum((1 << (w - 1 - i)) * zi for i, zi in enumerate(z)) % P


def close_layer(ch, label: bytes, weight: int, final, lam: int, vals, prods, root: bool = False) -> None:
    """Check a layer's four values (p0, p1, q0, q1) and their products (p0 q1, p1 q0, q0 q1)
    against the sumcheck's final value: final = weight (p0 q1 + p1 q0 + lambda q0 q1); at
    the root (two products), p0 q1 + p1 q0 = 0 (``final`` unused)."""
    p0, p1, q0, q1 = vals
    z1, z2 = prods[:2]
    ch.product(label + b"/p0q1", p0, q1, z1)
    ch.product(label + b"/p1q0", p1, q0, z2)
    if root:
        ch.equal(label + b"/root", ch.lin([(1, z1), (1, z2)]), ch.const(0))
        return
    z3 = prods[2]
    ch.product(label + b"/q0q1", q0, q1, z3)
    if weight % P == 0:
        raise ReductionError(f"{_name(label)}: degenerate challenge (eq weight 0)")
    ch.equal(label, ch.lin([(inv(weight), final)]), ch.lin([(1, z1), (1, z2), (lam, z3)]))


def next_claims(ch, mu: int, vals):
    """The claims on the next layer at (mu, r'): p = (1 - mu) p0 + mu p1, likewise q."""
    p0, p1, q0, q1 = vals
    return ch.lin([((1 - mu) % P, p0), (mu, p1)]), ch.lin([((1 - mu) % P, q0), (mu, q1)])


def verify_fraction_tree(ch, label: bytes, n_vars: int, send_root: bool = False):
    """Verify a tree of fractions over 2^n_vars leaves: that its root numerator is 0, or
    with ``send_root``, that its root is the pair (P, Q) the prover sends first. Returns
    (z, P_leaf, Q_leaf, root): a random leaf point, the claims on the leaf numerators and
    denominators there (for the caller to check) and the sent root (or None)."""
    if not 1 <= n_vars <= MAX_TREE_VARS:
        raise LogupError(f"{_name(label)}: unsupported tree of 2^{n_vars} leaves")
    ch.t.absorb_bytes(b"logup/tree", label + b"/" + str(n_vars).encode())
    root = ch.recv(label + b"/root", 2) if send_root else None
    if root is None:
        vals = ch.recv(label + b"/layer1", 4)
        prods = ch.recv(label + b"/layer1/products", 2)
        close_layer(ch, label + b"/layer1", 1, None, 0, vals, prods, root=True)
        (mu,) = ch.t.challenge_scalars(label + b"/mu1", 1)
        point, start = [mu], 1
        pc, qc = next_claims(ch, mu, vals)
    else:
        point, start = [], 0
        pc, qc = root
    for j in range(start, n_vars):
        lab = label + b"/layer" + str(j + 1).encode()
        (lam,) = ch.t.challenge_scalars(lab + b"/lambda", 1)
        claim = ch.lin([(1, pc), (lam, qc)])
        r2, final = ch.sumcheck(claim, j, 3) if j else ((), claim)
        vals = ch.recv(lab, 4)
        prods = ch.recv(lab + b"/products", 3)
        close_layer(ch, lab, eq_eval(point, list(r2)), final, lam, vals, prods)
        (mu,) = ch.t.challenge_scalars(lab + b"/mu", 1)
        point = [mu] + list(r2)
        pc, qc = next_claims(ch, mu, vals)
    return point, pc, qc, root
