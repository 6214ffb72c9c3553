"""LogUp-GKR, prover side: the tree of fractions of :mod:`zkdl.logup`, layer by layer.

:func:`prove_fraction_tree` writes exactly the messages :func:`zkdl.logup.verify_fraction_tree`
reads. The layers are built bottom-up once (each half the size of the one below: about
twice the leaves in all), then proven top-down; a layer is freed once its sumcheck is done.
Arithmetic goes through the channel's backend (``cpu``, ``reference`` or ``cuda``).
"""

from __future__ import annotations

from zkdl.field import P
from zkdl.logup import close_layer, next_claims
from zkdl.poly import eq_eval


def _halves(be, v):
    n = be.length(v)
    return be.slice(v, 0, n // 2), be.slice(v, n // 2, n)


def build_layers(be, p, q) -> list:
    """[(p_j, q_j)] for j = n..1 (leaves first): p_j = p0 q1 + p1 q0, q_j = q0 q1 of the
    halves of layer j + 1."""
    layers = [(p, q)]
    while be.length(layers[-1][0]) > 2:
        p, q = layers[-1]
        p0, p1 = _halves(be, p)
        q0, q1 = _halves(be, q)
        layers.append((be.add(be.mul(p0, q1), be.mul(p1, q0)), be.mul(q0, q1)))
    return layers


def prove_fraction_tree(ch, label: bytes, p, q, send_root: bool = False):
    """Prove the tree over leaf numerators ``p`` and denominators ``q`` (backend vectors
    of one power-of-two length >= 2): that its root numerator is 0, or with
    ``send_root``, first send its root (P, Q) and prove that. Returns (z, P_leaf, Q_leaf,
    root) as the verifier does (root: the sent pair of channel values, or None)."""
    be = ch.be
    n_vars = be.length(p).bit_length() - 1
    ch.t.absorb_bytes(b"logup/tree", label + b"/" + str(n_vars).encode())
    layers = build_layers(be, p, q)
    root = None
    if send_root:
        tp, tq = (be.to_ints(v) for v in layers[-1])
        root = ch.send(label + b"/root", [(tp[0] * tq[1] + tp[1] * tq[0]) % P, tq[0] * tq[1] % P])
        point, (pc, qc), start = [], root, 0
    else:
        top_p, top_q = (be.to_ints(v) for v in layers.pop())
        vals = ch.send(label + b"/layer1", [top_p[0], top_p[1], top_q[0], top_q[1]])
        prods = ch.send(label + b"/layer1/products", [top_p[0] * top_q[1] % P, top_p[1] * top_q[0] % P])
        close_layer(ch, label + b"/layer1", 1, None, 0, vals, prods, root=True)
        (mu,) = ch.t.challenge_scalars(label + b"/mu1", 1)
        point, start = [mu], 1
        pc, qc = next_claims(ch, mu, vals)
    for j in range(start, n_vars):
        lab = label + b"/layer" + str(j + 1).encode()
        (lam,) = ch.t.challenge_scalars(lab + b"/lambda", 1)
        p, q = layers.pop()
        claim = ch.lin([(1, pc), (lam, qc)])
        if j == 0:      # layer 1 itself: the claim is checked directly
            tp, tq = be.to_ints(p), be.to_ints(q)
            p0v, p1v, q0v, q1v = tp[0], tp[1], tq[0], tq[1]
            r2, final = [], claim
        else:
            p0, p1 = _halves(be, p)
            q0, q1 = _halves(be, q)
            a = be.add(p0, be.scale(q0, lam))              # p0 q1 + lam q0 q1 = (p0 + lam q0) q1
            res, final = ch.sumcheck([a, q1, q0, p1], claim, eq_point=point, terms=[(1, [0, 1]), (1, [2, 3])])
            av, q1v, q0v, p1v = res.table_evals
            p0v = (av - lam * q0v) % P
            r2 = list(res.point)
        vals = ch.send(lab, [p0v, p1v, q0v, q1v])
        prods = ch.send(lab + b"/products", [p0v * q1v % P, p1v * q0v % P, q0v * q1v % P])
        close_layer(ch, lab, eq_eval(point, r2), final, lam, vals, prods)
        (mu,) = ch.t.challenge_scalars(lab + b"/mu", 1)
        point = [mu] + r2
        pc, qc = next_claims(ch, mu, vals)
    return point, pc, qc, root
