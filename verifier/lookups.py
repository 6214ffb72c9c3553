"""The ``logup`` range checks of the compiled schedule (zkdl.verifier.compile, step 1).

Played against a context like every rule of the schedule: per table width the trees of
fractions of :mod:`zkdl.logup` over the limb blocks of :mod:`zkdl.circuits.lookup`, and
the check of each tree's leaf claims against the looked-up tensors (docs/PROTOCOL.md,
rule "lookup").
"""

from __future__ import annotations

from zkdl.circuits.ir import Circuit
from zkdl.circuits.lookup import lookup_blocks
from zkdl.field import P
from zkdl.logup import block_weight, check_alpha, forest_layout, table_mle
from zkdl import logup
from zkdl.poly import eq_table
from zkdl.verifier.compile import ProtocolBug, _identity, stack_shape

__all__ = ["run_lookups"]


def run_lookups(ctx, c: Circuit, claims) -> None:
    """Range checks by LogUp-GKR (strategy ``logup``; zkdl.logup): one challenge alpha
    after every commitment, then per table width w the trees of fractions over its leaf
    blocks -- every limb block of that width (:func:`zkdl.circuits.lookup.lookup_blocks`),
    the table (-m_j, alpha - j), filler (0, 1) -- at most 2^logup.TREE_CAP_BITS leaves each
    (:func:`zkdl.logup.forest_layout`): one tree whose root numerator is 0, or several
    whose sent roots a last tree sums to 0. Each tree's leaf claims are checked against
    its blocks' tensors (:func:`_check_leaves`), which become claims on them."""
    tables = c.relations_of("lookup")
    if not tables:
        return
    blocks = lookup_blocks(c.relations)
    for r in c.relations_of("range"):
        if r.params["strategy"] == "logup":
            (vo,) = _identity(c, r, "value")
            _identity(c, r, "limb", c.tensor(vo.tensor))
    (alpha,) = ctx.challenge("logup/alpha", 1)
    check_alpha(alpha, max(r.params["table_bits"] for r in tables))   # every table is a prefix [0, 2^w)
    for r in tables:
        w = r.params["table_bits"]
        mult = c.tensor(_identity(c, r, "mult")[0].tensor)
        if stack_shape(mult) != (1, 1 << w) or w not in blocks:
            raise ProtocolBug(f"relation {r.name}: a table of 2^{w} multiplicities with lookups of width {w}")
        leaves = [(b, c.tensor(b.layout).num_vars) for b in blocks.pop(w)] + [(None, w)]   # None: the table
        trees = forest_layout([nb for _, nb in leaves], logup.TREE_CAP_BITS)
        roots = []
        for k, (n, placed) in enumerate(trees):
            label = r.name if len(trees) == 1 else f"{r.name}/tree{k}"
            parts = [(leaves[i][0], leaves[i][1], off) for i, off in placed]
            z, pc, qc, root = ctx.fraction_tree(label, alpha, w, parts, n, mult.name, len(trees) > 1)
            _check_leaves(ctx, label, alpha, w, mult.name, z, n, parts, pc, qc, claims)
            roots.append(root)
        if len(trees) > 1:
            label = f"{r.name}/roots"
            z, pc, qc = ctx.root_tree(label, roots, max(1, (len(roots) - 1).bit_length()))
            e = eq_table(z)
            ctx.equal(f"{label}/p", pc, ctx.lin([(e[k], rp) for k, (rp, _) in enumerate(roots)]))
            ctx.equal(f"{label}/q", qc, ctx.lin([(e[k], rq) for k, (_, rq) in enumerate(roots)],
                                                sum(e[len(roots):]) % P))
    if blocks:
        raise ProtocolBug(f"lookups of widths {sorted(blocks)} have no table")


def _check_leaves(ctx, label: str, alpha: int, w: int, mult: str, z, n: int, parts, pc, qc, claims) -> None:
    """The leaf claims (P, Q) at z of a tree holding ``parts`` [(block or None for the
    table, its leaf bits b, offset)]: the prover sends each block's tensors at the suffix
    z[n-b:] (and m for the table); the verifier checks Q = sum_blocks eq(z_prefix, block)
    (alpha - value) + the table's (alpha - j~) + the filler weight and P = sum_blocks
    eq(...) 1 - eq(table) m."""
    q_terms, q_const, p_terms, p_const, covered, seen = [], 0, [], 0, 0, {}
    for k, (b, nb, off) in enumerate(parts):
        wt, suffix = block_weight(z, n, nb, off), list(z[n - nb:])
        covered += wt
        if b is None:
            (mv,) = ctx.send(f"{label}/mult", [mult], suffix)
            claims.add(mult, suffix, mv)
            q_const += wt * (alpha - table_mle(suffix))
            p_terms.append((-wt % P, mv))
            continue
        new = [name for _, name in b.terms if (name, nb) not in seen]
        if new:
            seen.update(zip([(name, nb) for name in new], ctx.send(f"{label}/leaf{k}", new, suffix)))
            for name in new:
                claims.add(name, suffix, seen[(name, nb)])
        q_terms += [(-wt * coef % P, seen[(name, nb)]) for coef, name in b.terms]
        q_const += wt * (alpha - b.const)
        p_const += wt
    q_const += 1 - covered                     # filler leaves are (0, 1)
    ctx.equal(f"{label}/q", qc, ctx.lin(q_terms, q_const % P))
    ctx.equal(f"{label}/p", pc, ctx.lin(p_terms, p_const % P))
