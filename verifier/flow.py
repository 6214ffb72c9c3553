"""The aggregated SGD-MLP protocol, written once for prover and verifier.

:func:`run_protocol` walks the proof in transcript order against a *context*: the
prover's context (zkdl.prover.aggregate) computes and writes each message, the
verifier's (zkdl.verifier.verify) reads and checks it; both return the same claims,
so the two sides cannot drift apart. Stack names and shapes come from
:mod:`zkdl.verifier.plan`; the reductions from :mod:`zkdl.reductions`.

Order (docs/PROTOCOL.md describes each message):
 1. commitments to the witness stacks (plan.committed());
 2. per family: forward, backward (ReLU families) and update relations, each a
    random evaluation point on the relation's output, the output tensors' values
    there, and a stacked matmul sumcheck;
 3. final weights: W[t0+T] = W[t0] - sum_t dW[t] at a random point; padding of
    the statement tensors; the proven loss (when the plan has it);
 4. derived tensors, in dependency order: weight stacks (instance maps onto W[t0]
    and dW), gradients passed between layers, activations passed between layers
    and from the data, zkReLU products, output gradient, data selection,
    recompositions from bits, the initial-weight range check;
 5. booleanity zero-checks of every bit stack and sign-bit stack;
 6. per committed stack: claims batched to one point and one Hyrax opening.
"""

from __future__ import annotations

from zkdl.errors import ZkdlError
from zkdl.field import P, inv
from zkdl.poly import eq_table, prefix_mle
from zkdl.verifier.plan import Family, Plan, log2ceil
from zkdl.verifier.plan import pad2 as pad_dim


class ProtocolBug(ZkdlError):
    """An internal inconsistency of the protocol description (never caused by input)."""


class Claims:
    """Pending evaluation claims per stack name, in insertion order."""

    def __init__(self):
        self._claims: dict[str, list] = {}

    def add(self, name: str, point, value: int) -> None:
        self._claims.setdefault(name, []).append((tuple(point), value))

    def pop(self, name: str) -> list:
        return self._claims.pop(name, [])

    def names(self) -> list[str]:
        return list(self._claims)


def lb(n: int) -> int:
    return log2ceil(n)


def stack_shape(plan: Plan, name: str) -> tuple[int, ...]:
    """Padded shape of every stack the protocol names."""
    kind, _, fid = name.partition("/")
    tp, bp = 1 << plan.tbits, 1 << plan.bbits
    if kind == "A0":
        return (tp, bp, plan.pdims[0])
    if kind == "Ysel":
        return (tp, bp, plan.pdims[-1])
    if kind == "X":
        return (1 << plan.nbits_log, plan.pdims[0])
    if kind == "Y":
        return (1 << plan.nbits_log, plan.pdims[-1])
    fam = plan.families[int(fid)]
    inst = tp * fam.Lp
    if kind in ("U", "RZ", "GA", "RG", "DW", "RW", "W0B", "XB"):
        for k, f, shape in plan.committed():
            if k == kind and f.index == fam.index:
                return shape
        raise KeyError(name)
    if kind in ("S", "Zp", "RZv", "GAv", "RGv", "A", "GZ"):
        return (inst, bp, fam.dout)
    if kind == "Ain":
        return (inst, bp, fam.din)
    if kind in ("W", "DWv", "RWv"):
        return (inst, fam.din, fam.dout)
    if kind == "Wn":
        return (inst, fam.dout, fam.dnext)
    if kind == "GZn":
        return (inst, bp, fam.dnext)
    if kind in ("W0", "Wf"):
        return (fam.Lp, fam.din, fam.dout)
    raise KeyError(name)


def num_vars(plan: Plan, name: str) -> int:
    return sum(lb(s) for s in stack_shape(plan, name))


BIT_KINDS = ("U", "RZ", "GA", "RG", "DW", "RW", "W0B", "XB")


def committed_names(plan: Plan) -> list[str]:
    """Every committed stack, witness first, then the statement's (in opening order)."""
    names = [f"{k}/{f.index}" for k, f, _ in plan.committed()]
    names += [f"W0/{f.index}" for f in plan.families] + [f"Wf/{f.index}" for f in plan.families]
    return names + ["X", "Y"]


def batch_rows(plan: Plan, schedule) -> list:
    """Dataset row of each (t, b) row of the A0 / Ysel stacks (None for padding)."""
    tp, bp = 1 << plan.tbits, 1 << plan.bbits
    rows = [None] * (tp * bp)
    for t in range(plan.T):
        for b, n in enumerate(schedule(plan.t0 + t)):
            rows[t * bp + b] = n
    return rows


def _weight_sources(plan: Plan, target: Family, layer_of):
    """Sources for a stack whose instance (t, lf) is W[t, layer_of(lf)] (or None):
    W[t, l] = W0[l] - sum_{s < t} dW[s, l], grouped per source family."""
    groups: dict[int, tuple[dict, dict]] = {}
    for t in range(plan.T):
        for lf, layer in enumerate(target.layers):
            src_layer = layer_of(layer)
            if src_layer is None:
                continue
            fam, slf = plan.locate(src_layer)
            w0, dw = groups.setdefault(fam.index, ({}, {}))
            i = plan.inst(target, t, lf)
            w0[(i, slf)] = 1
            for s in range(t):
                dw[(i, plan.inst(fam, s, slf))] = P - 1
    sources = []
    for fid, (w0, dw) in sorted(groups.items()):
        fam = plan.families[fid]
        sources.append((fam.lbits, w0, f"W0/{fid}"))
        if dw:
            sources.append((plan.inst_bits(fam), dw, f"DWv/{fid}"))
    return sources


def _activation_sources(plan: Plan, target: Family, kind: str, layer_of):
    """Sources for a stack whose instance (t, lf) is <kind>[t, layer_of(lf)] (kind A or GZ),
    where layer 0 of A is the data stack A0."""
    groups: dict[str, dict] = {}
    for t in range(plan.T):
        for lf, layer in enumerate(target.layers):
            src_layer = layer_of(layer)
            i = plan.inst(target, t, lf)
            if src_layer == 0:
                groups.setdefault("A0", {})[(i, t)] = 1
                continue
            fam, slf = plan.locate(src_layer)
            groups.setdefault(f"{kind}/{fam.index}", {})[(i, plan.inst(fam, t, slf))] = 1
    out = []
    for name in sorted(groups):
        bits = plan.tbits if name == "A0" else plan.inst_bits(plan.families[int(name.split("/")[1])])
        out.append((bits, groups[name], name))
    return out


def _reduce_map(ctx, claims: Claims, plan: Plan, name: str, sources, const_weights=None):
    """Batch the claims on derived stack ``name`` and reduce them through an instance map."""
    pending = claims.pop(name)
    if not pending:
        return
    point, value = ctx.batch(name, pending)
    inst_vars = lb(stack_shape(plan, name)[0])
    rho, q = list(point[:inst_vars]), list(point[inst_vars:])
    out = ctx.instance_map(f"map/{name}", rho, q, value, const_weights or {},
                           [(bits, weights, src) for bits, weights, src in sources])
    for (pt, val), (_, _, src) in zip(out, sources):
        claims.add(src, pt, val)


def _booleanity(ctx, claims: Claims, name: str, one: int) -> None:
    """Every entry of stack ``name`` is 0 or ``one``, checked together with its claims.

    After batching the claims to one, (p, v), a random lambda and one degree-3
    sumcheck show sum_x eq(p, x) b(x) (1 + lambda one - lambda b(x)) = v, i.e.
    b(p) + lambda * sum_x eq(p, x) b(x) (one - b(x)) = v: the first term is the claim,
    the second the zero-check of b (one - b) at the random point p (a nonzero
    multilinear polynomial vanishes there with probability <= n/|F|). It ends in one
    claim on b, so no separate zero-check and batching sumchecks are needed."""
    pending = claims.pop(name)
    if pending:
        point, value = ctx.batch(name, pending)
    else:  # (not reached by the SGD plan) a fresh random point with the zero claim
        point, value = ctx.challenge(f"bool/{name}/tau", num_vars(ctx.plan, name)), ctx.const(0)
    (lam,) = ctx.challenge(f"bool/{name}", 1)
    p2, (v,) = ctx.eq_product(f"bool/{name}", point, value, [(0, 1, 0), ((1 + lam * one) % P, P - lam, 0)],
                              [name])
    claims.add(name, p2, v)


def _one_hot_rows(ctx, claims: Claims, plan: Plan) -> None:
    """Every logical row of the targets Y (Np x D_L) sums to 2^R, every padded row to 0.

    With tau random over the row bits and every column coordinate 1/2 (eq(1/2, j) = 2^-c
    for all j in {0,1}^c):

        Y~(tau, 1/2, ..., 1/2) = 2^-c sum_n eq(tau, n) rowsum(n),

    so the public claim Y~(tau, 1/2, ..., 1/2) = 2^-c 2^R prefix_N(tau) (prefix_N the
    extension of [n < N]) says sum_n eq(tau, n) (rowsum(n) - 2^R [n < N]) = 0: a
    multilinear polynomial in tau that vanishes at a random point only if it is zero
    (Schwartz-Zippel, error <= log2(Np)/|Fr|). No sumcheck: the claim joins Y's other
    claims. With Y's booleanity (entries 0 or 2^R, proven next) and D_L 2^R << p, a row
    sum of 2^R means exactly one hot entry."""
    c = lb(plan.pdims[-1])
    tau = list(ctx.challenge("onehot/Y", plan.nbits_log))
    half = inv(2)
    value = (1 << plan.R) * prefix_mle(plan.n_samples, tau) % P * pow(half, c, P) % P
    claims.add("Y", tau + [half] * c, ctx.const(value))


def _loss_relation(ctx, claims: Claims, plan: Plan, losses) -> None:
    """The public per-step loss sums ``losses[t] = sum_{b,j} G_Z_L[t, b, j]^2``.

    With rho random over the step bits and every other coordinate 1/2 (where
    eq(1/2, x) = 2^-n for all x in {0,1}^n):

        sum_{t,x} eq((rho, 1/2, ..., 1/2), (t, x)) G(t, x)^2 = 2^-n sum_t eq(rho, t) losses[t]

    so one degree-3 eq-product sumcheck over the output gradient stack with that public
    claim proves all T values at once (Schwartz-Zippel over rho; padded steps hold 0,
    the output gradient of a padded instance being zero by construction). It ends in
    one claim on G_Z_L, reduced with the other output-gradient claims."""
    fam = plan.families[-1]
    if fam.relu or fam.layers != (plan.L,) or losses is None or len(losses) != plan.T:
        raise ProtocolBug("the loss relation needs the output layer's family and T loss values")
    F = fam.index
    rho = ctx.challenge(f"loss/{F}/rho", plan.tbits)
    nx = plan.bbits + lb(fam.dout)
    half = inv(2)
    total = sum(e * (v % P) for e, v in zip(eq_table(rho), losses)) % P
    claim = ctx.const(total * pow(half, nx, P) % P)
    p2, (g,) = ctx.eq_product(f"loss/{F}", list(rho) + [half] * nx, claim, [(0, 1, 0), (0, 1, 0)], [f"GZ/{F}"])
    claims.add(f"GZ/{F}", p2, g)


def run_protocol(ctx, plan: Plan, schedule, losses=None) -> None:
    """Walk the whole proof; raises (verifier side) on the first failed check.
    ``losses``: the statement's per-step loss sums (plans that prove the loss)."""
    R, Q = plan.R, plan.Q
    a_inv = inv(plan.lr_num)
    bb = plan.bbits
    claims = Claims()

    # 1. witness commitments
    for kind, fam, shape in plan.committed():
        ctx.commit(f"{kind}/{fam.index}", shape)

    # 2. relations
    for fam in plan.families:
        F = fam.index
        ib, din, dout, dnext = plan.inst_bits(fam), lb(fam.din), lb(fam.dout), lb(max(fam.dnext, 1))
        # forward: Ain W = 2^R Zp + remZ
        rho, rb, rj = (ctx.challenge(f"fwd/{F}/{s}", n) for s, n in (("rho", ib), ("b", bb), ("j", dout)))
        zp, rz = ctx.send(f"fwd/{F}/out", [f"Zp/{F}", f"RZv/{F}"], rho + rb + rj)
        claims.add(f"Zp/{F}", rho + rb + rj, zp)
        claims.add(f"RZv/{F}", rho + rb + rj, rz)
        r2, k2, lv, rv = ctx.matmul(f"fwd/{F}", rho, din, ctx.lin([(1 << R, zp), (1, rz)]),
                                    (f"Ain/{F}", {1: rb}), (f"W/{F}", {2: rj}))
        r2, k2 = list(r2), list(k2)
        claims.add(f"Ain/{F}", r2 + rb + k2, lv)
        claims.add(f"W/{F}", r2 + k2 + rj, rv)
        # backward: GZn Wn^T = 2^R GA' + remGA
        if fam.relu:
            rho, rb, rj = (ctx.challenge(f"bwd/{F}/{s}", n) for s, n in (("rho", ib), ("b", bb), ("j", dout)))
            ga, rg = ctx.send(f"bwd/{F}/out", [f"GAv/{F}", f"RGv/{F}"], rho + rb + rj)
            claims.add(f"GAv/{F}", rho + rb + rj, ga)
            claims.add(f"RGv/{F}", rho + rb + rj, rg)
            r2, k2, lv, rv = ctx.matmul(f"bwd/{F}", rho, dnext, ctx.lin([(1 << R, ga), (1, rg)]),
                                        (f"GZn/{F}", {1: rb}), (f"Wn/{F}", {1: rj}))
            r2, k2 = list(r2), list(k2)
            claims.add(f"GZn/{F}", r2 + rb + k2, lv)
            claims.add(f"Wn/{F}", r2 + rj + k2, rv)
        # update: a Ain^T GZ = 2^(R+k) dW + remW
        rho, ri, rj = (ctx.challenge(f"upd/{F}/{s}", n) for s, n in (("rho", ib), ("i", din), ("j", dout)))
        dw, rw = ctx.send(f"upd/{F}/out", [f"DWv/{F}", f"RWv/{F}"], rho + ri + rj)
        claims.add(f"DWv/{F}", rho + ri + rj, dw)
        claims.add(f"RWv/{F}", rho + ri + rj, rw)
        gw = ctx.lin([((1 << (R + plan.lr_shift)) * a_inv % P, dw), (a_inv, rw)])
        r2, k2, lv, rv = ctx.matmul(f"upd/{F}", rho, bb, gw, (f"Ain/{F}", {2: ri}), (f"GZ/{F}", {2: rj}))
        r2, k2 = list(r2), list(k2)
        claims.add(f"Ain/{F}", r2 + k2 + ri, lv)
        claims.add(f"GZ/{F}", r2 + k2 + rj, rv)

    # 3. final weights W[t0+T] = W[t0] - sum_t dW[t]
    for fam in plan.families:
        F = fam.index
        rho = ctx.challenge(f"final/{F}/rho", fam.lbits)
        q = ctx.challenge(f"final/{F}/q", lb(fam.din) + lb(fam.dout))
        (wf,) = ctx.send(f"final/{F}/value", [f"Wf/{F}"], rho + q)
        claims.add(f"Wf/{F}", rho + q, wf)
        w0 = {(lf, lf): 1 for lf in range(len(fam.layers))}
        dw = {(lf, plan.inst(fam, t, lf)): P - 1 for lf in range(len(fam.layers)) for t in range(plan.T)}
        out = ctx.instance_map(f"final/{F}", rho, q, wf, {},
                               [(fam.lbits, w0, f"W0/{F}"), (plan.inst_bits(fam), dw, f"DWv/{F}")])
        claims.add(f"W0/{F}", *out[0])
        claims.add(f"DWv/{F}", *out[1])

    # 3b. statement tensors are zero outside their logical extent (only checked where a
    #     dimension is not a power of two; padded layer slots are identity rows already)
    for fam in plan.families:
        ext = [(plan.dims[layer - 1], plan.dims[layer]) for layer in fam.layers]
        if any(e != (fam.din, fam.dout) for e in ext):
            name = f"W0/{fam.index}"
            tau = ctx.challenge(f"pad/{name}", num_vars(plan, name))
            claims.add(name, *ctx.padding_zero(f"pad/{name}", name, tau, fam.lbits, lb(fam.din), ext))
    #     the dataset is zero outside its N logical rows too, so that a proof stating
    #     N rows cannot read rows beyond N from the commitment
    for name, d in (("X", plan.dims[0]), ("Y", plan.dims[-1])):
        if d != pad_dim(d) or plan.n_samples != 1 << plan.nbits_log:
            tau = ctx.challenge(f"pad/{name}", num_vars(plan, name))
            claims.add(name, *ctx.padding_zero(f"pad/{name}", name, tau, 0, plan.nbits_log,
                                               [(plan.n_samples, d)]))

    # 3c. the public training loss of every step
    if plan.prove_loss:
        _loss_relation(ctx, claims, plan, losses)

    # 4. derived tensors
    for fam in plan.families:
        _reduce_map(ctx, claims, plan, f"W/{fam.index}", _weight_sources(plan, fam, lambda l: l))
        if fam.relu:
            _reduce_map(ctx, claims, plan, f"Wn/{fam.index}", _weight_sources(plan, fam, lambda l: l + 1))
    for fam in plan.families:
        if fam.relu:
            _reduce_map(ctx, claims, plan, f"GZn/{fam.index}",
                        _activation_sources(plan, fam, "GZ", lambda l: l + 1))
    for fam in plan.families:
        _reduce_map(ctx, claims, plan, f"Ain/{fam.index}", _activation_sources(plan, fam, "A", lambda l: l - 1))
    for fam in plan.families:
        F = fam.index
        if fam.relu:
            for prod, other in ((f"GZ/{F}", f"GAv/{F}"), (f"A/{F}", f"Zp/{F}")):
                pending = claims.pop(prod)
                if not pending:
                    continue
                point, value = ctx.batch(prod, pending)
                p2, (s_val, o_val) = ctx.eq_product(f"relu/{prod}", point, value,
                                                    [(1, P - 1, 0), (0, 1, 1)], [f"S/{F}", other])
                claims.add(f"S/{F}", p2, s_val)
                claims.add(other, p2, o_val)
        else:
            # output gradient G_Z[L] = Z'[L] - Y
            srcs = [(plan.inst_bits(fam), {(plan.inst(fam, t, 0), plan.inst(fam, t, 0)): 1
                                           for t in range(plan.T)}, f"Zp/{F}"),
                    (plan.tbits, {(plan.inst(fam, t, 0), t): P - 1 for t in range(plan.T)}, "Ysel")]
            _reduce_map(ctx, claims, plan, f"GZ/{F}", srcs)
    rows = batch_rows(plan, schedule)
    for sel, data in (("A0", "X"), ("Ysel", "Y")):
        pending = claims.pop(sel)
        if not pending:
            continue
        point, value = ctx.batch(sel, pending)
        nr = plan.tbits + bb
        pt, val = ctx.select(f"select/{sel}", point[:nr], point[nr:], value, rows, data, plan.nbits_log)
        claims.add(data, pt, val)
    for fam in plan.families:
        F = fam.index
        for kind, vkind in (("Zp", "U"), ("RZv", "RZ"), ("GAv", "GA"), ("RGv", "RG"), ("DWv", "DW"),
                            ("RWv", "RW")):
            if not fam.relu and kind in ("GAv", "RGv"):
                continue
            pending = claims.pop(f"{kind}/{F}")
            if not pending:
                continue
            point, value = ctx.batch(f"{kind}/{F}", pending)
            terms = [("bits", 1, plan.kbits(vkind, fam), plan.value_bits(vkind, fam), f"{vkind}/{F}")]
            if kind == "Zp" and fam.relu:
                terms.append(("tensor", P - (1 << (Q - 1)), f"S/{F}"))
            out = ctx.linear(f"bits/{kind}/{F}", point, value, -plan.offset(vkind, fam), terms)
            for (pt, val), term in zip(out, terms):
                claims.add(term[-1], pt, val)
        if plan.check_initial_weights:
            pending = claims.pop(f"W0/{F}")
            point, value = ctx.batch(f"W0/{F}", pending)
            claims.add(f"W0/{F}", point, value)
            out = ctx.linear(f"bits/W0/{F}", point, value, -plan.offset("W0B", fam),
                             [("bits", 1, plan.kbits("W0B", fam), plan.value_bits("W0B", fam), f"W0B/{F}")])
            claims.add(f"W0B/{F}", *out[0])

    if plan.check_dataset:
        pending = claims.pop("X")
        point, value = ctx.batch("X", pending)
        claims.add("X", point, value)
        fam0 = plan.families[0]
        out = ctx.linear("bits/X", point, value, -plan.offset("XB", fam0),
                         [("bits", 1, plan.kbits("XB", fam0), plan.value_bits("XB", fam0), "XB/0")])
        claims.add("XB/0", *out[0])
        # targets: each of the N rows sums to 2^R, and Y (Y - 2^R) = 0 everywhere (every
        # entry 0 or 2^R), merged with Y's claims: one-hot rows times 2^R
        _one_hot_rows(ctx, claims, plan)
        _booleanity(ctx, claims, "Y", 1 << R)

    # 5. booleanity of every bit stack and sign-bit stack, merged with its claim
    for kind, fam, _ in plan.committed():
        _booleanity(ctx, claims, f"{kind}/{fam.index}", 1)

    # 6. batch and open every committed stack
    leftover = set(claims.names()) - set(committed_names(plan))
    if leftover:
        raise ProtocolBug(f"unreduced claims on {sorted(leftover)}")
    for name in committed_names(plan):
        pending = claims.pop(name)
        if pending:
            point, value = ctx.batch(name, pending)
            ctx.open(name, point, value)
