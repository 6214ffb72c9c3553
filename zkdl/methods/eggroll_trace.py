"""Tracer side of ``eggroll`` (:mod:`zkdl.methods.eggroll`): the exact integer step, the
public perturbation factors as arrays, and a float64 reference of the same method (the
same public factors, float forward passes, the same sign and threshold rule). Imported
only by the tracer (numpy)."""

from __future__ import annotations

import numpy as np

from zkdl import quant
from zkdl.methods.eggroll import (FACTORS, FIT_SHIFT, factor_supports, fitness_id, member_id, pair_id)
from zkdl.reference import float_batch, mse_output
from zkdl.support import support_count
from zkdl.tracer import _REMEDY_VALUE, _State, _overflow, batch_inputs

__all__ = ["factors", "trace_step", "float_train", "float_step", "fidelity"]

DEFAULTS = {"pairs": 4, "rank": 2, "density_permille": 500, "sigma_shift": 5, "step_shift": 8,
            "threshold": 0, "seed": 0}


def factors(dims, step: int, pairs: int, rank: int, density_permille: int, seed: int) -> dict:
    """(i, l) -> (A_i, B_i) of layer l at absolute step ``step`` (int64; A in {-1, 0, 1}:
    the A+ support minus the A- support, B in {0, 1})."""
    out = {}
    for i in range(pairs):
        for l in range(1, len(dims)):
            mats = {}
            for w, (rows, cols, pos) in factor_supports(seed, step, i, l, dims, rank, density_permille).items():
                m = np.zeros(rows * cols, dtype=np.int64)
                m[np.asarray(pos, dtype=np.int64)] = 1
                mats[w] = m.reshape(rows, cols)
            out[(i, l)] = (mats["A+"] - mats["A-"], mats["B"], mats)
    return out


def _mm(a, b, t, l, what):
    try:
        return quant.exact_matmul(np.ascontiguousarray(a), np.ascontiguousarray(b))
    except OverflowError:
        raise _overflow(t, l, what, None, 63, _REMEDY_VALUE, detail=": the product does not fit int64") from None


def _check_q(t, l, name, x, Q):
    if x.size and (x.min() < -(1 << (Q - 1)) or x.max() >= 1 << (Q - 1)):
        raise _overflow(t, l, name, x, Q, _REMEDY_VALUE)


def trace_step(cfg, data, st: _State, t: int, pairs: int = 4, rank: int = 2, density_permille: int = 500,
               sigma_shift: int = 5, step_shift: int = 8, threshold: int = 0, seed: int = 0):
    """One EGGROLL step (module docstring of :mod:`zkdl.methods.eggroll`): 2 N member
    forward passes, the fitness signs, the thresholded update. The reported loss and
    accuracy are those of the unperturbed weights on the batch (not proven)."""
    L, R, Q = cfg.layers, cfg.R, cfg.Q
    dims = list(cfg.dims())
    N, r = pairs, rank
    W = st.W
    T = batch_inputs(cfg, data, t)
    A0, Y = T["A_0"], T["Y"]
    fac = factors(dims, t, N, r, density_permille, seed)
    cmax = max(support_count(*(dims[l - 1] if w != "B" else dims[l], r), density_permille)
               for w in FACTORS for l in range(1, L + 1))
    T["ONE"] = np.ones((cmax, 1), dtype=np.int64)
    for (i, l), (Ap, Bp, mats) in fac.items():
        u = pair_id(i, l)
        T[f"PA_{u}"], T[f"NA_{u}"], T[f"PB_{u}"] = mats["A+"], mats["A-"], mats["B"]
        T[f"Ap_{u}"], T[f"Bp_{u}"] = Ap, Bp
    c = 1 << (R - sigma_shift)
    losses = []
    for m in range(2 * N):
        i, sgn = m // 2, 1 - 2 * (m % 2)
        a = A0
        for l in range(1, L + 1):
            v = member_id(m, l)
            Ap, Bp, _ = fac[(i, l)]
            ZW = _mm(a, W[l - 1], t, l, f"ZW_{v}")
            F = _mm(a, Ap, t, l, f"F_{v}")
            P = _mm(F, Bp.T, t, l, f"F B^T of member {m}")
            if quant.abs_max(P) * c + quant.abs_max(ZW) >= 1 << 62:
                raise _overflow(t, l, f"Z_{v}", None, 63, _REMEDY_VALUE, detail=": the member's product overflows")
            Zp, rem = quant.round_shift(ZW + sgn * c * P, R)
            _check_q(t, l, f"Zp_{v} (member {m})", Zp, Q)
            T.update({f"Ain_{v}": a, f"Wg_{v}": W[l - 1], f"Pa_{v}": Ap, f"Pb_{v}": Bp, f"ZW_{v}": ZW, f"F_{v}": F,
                      f"Zp_{v}": Zp, f"remZ_{v}": rem})
            if l < L:
                S = (Zp < 0).astype(np.int64)
                a = Zp * (1 - S)
                T[f"S_{v}"], T[f"A_{v}"] = S, a
            else:
                G = Zp - Y
                loss = int(np.sum(G.astype(object) ** 2)) if G.size else 0
                if loss >= 1 << 62:
                    raise _overflow(t, l, f"Lm_{v}", None, 62, _REMEDY_VALUE, detail=": a member's squared error")
                T[f"Gm_{v}"], T[f"Lm_{v}"] = G, np.array([loss], dtype=np.int64)
                losses.append(loss)
    Sf = []
    for i in range(N):
        q = fitness_id(i)
        dd = losses[2 * i + 1] - losses[2 * i]
        s = int(dd < 0)
        Sf.append(s)
        T[f"Dd_{q}"], T[f"Sf_{q}"] = np.array([dd], dtype=np.int64), np.array([s], dtype=np.int64)
        T[f"Uf_{q}"] = np.array([dd + (s << FIT_SHIFT)], dtype=np.int64)
    nz = (N * r + threshold + 1).bit_length() + 1
    hz = 1 << (nz - 1)
    step = 1 << (R - step_shift)
    nW = []
    for l in range(1, L + 1):
        Z = np.zeros((dims[l - 1], dims[l]), dtype=np.int64)
        for i in range(N):
            u = pair_id(i, l)
            Ap, Bp, _ = fac[(i, l)]
            f = 1 - 2 * Sf[i]
            Fa = f * Ap
            Zi = Fa @ Bp.T
            T[f"SG_{u}"] = np.array([Sf[i]], dtype=np.int64)
            T[f"SB_{u}"] = np.full(Ap.shape, Sf[i], dtype=np.int64)
            T[f"Fa_{u}"], T[f"Zi_{u}"] = Fa, Zi
            Z += Zi
        a_ = Z - threshold - 1
        b_ = -Z - threshold - 1
        Sa, Sb = (a_ < 0).astype(np.int64), (b_ < 0).astype(np.int64)
        dW = step * (Sa - Sb)
        wn = W[l - 1] - dW
        _check_q(t, l, f"W_next_{l}", wn, Q)
        T.update({f"ZS_{l}": Z, f"Sa_{l}": Sa, f"Sb_{l}": Sb, f"Ua_{l}": a_ + hz * Sa, f"Ub_{l}": b_ + hz * Sb,
                  f"dW_{l}": dW, f"W_{l}": W[l - 1], f"W_next_{l}": wn})
        nW.append(wn)
    loss, acc = _metrics(cfg, W, A0, Y, T["labels"])
    return T, _State(nW), loss, acc


def _metrics(cfg, W, A0, Y, labels):
    """(loss, batch accuracy) of the unperturbed integer weights (the tracer's rounding):
    0.5 sum (Z'_L - Y)^2 / (B 2^(2R)), argmax Z'_L = label."""
    a = A0
    L, R = cfg.layers, cfg.R
    for l in range(1, L + 1):
        zp, _ = quant.round_shift(quant.exact_matmul(np.ascontiguousarray(a), W[l - 1]), R)
        a = np.maximum(zp, 0) if l < L else zp
    g = (a - Y).astype(np.float64)
    loss = 0.5 * float(np.sum(g * g)) / (cfg.batch_size * float(1 << (2 * R)))
    return loss, float(np.mean(np.argmax(a, axis=1) == labels))


# ----------------------------------------------------------------------------- float64
def _forward(W, x):
    a = x
    for l, w in enumerate(W):
        z = a @ w
        a = np.maximum(z, 0.0) if l < len(W) - 1 else z
    return a


def normal_factors(dims, step: int, pairs: int, rank: int, density_permille: int, seed: int) -> dict:
    """Float EGGROLL's factors for comparison: (i, l) -> (A_i, B_i) with normal entries
    (numpy's PCG64 from [seed, step], not the integer rule's), scaled so that the
    entries of A_i B_i^T have the integer factors' variance: A ~ N(0, 2 rho (1 - rho)),
    B ~ N(0, rho), rho = density_permille / 1000."""
    rho = density_permille / 1000.0
    g = np.random.default_rng([int(seed), int(step)])
    out = {}
    for i in range(pairs):
        for l in range(1, len(dims)):
            A = g.standard_normal((dims[l - 1], rank)) * np.sqrt(2 * rho * (1 - rho))
            B = g.standard_normal((dims[l], rank)) * np.sqrt(rho)
            out[(i, l)] = (A, B, None)
    return out


def float_step(config, W, xb, labels, t, pairs=4, rank=2, density_permille=500, sigma_shift=5, step_shift=8,
               threshold=0, seed=0, normal=False):
    """One float64 EGGROLL step from the float weights W (a new list): members
    W +- sigma A_i B_i^T (sigma = 2^-ks; the same public factors, or ``normal`` ones:
    :func:`normal_factors`), float forward passes, f_i = +1 where loss_+ <= loss_-,
    Z = sum f_i A_i B_i^T, W' = W + 2^-ke ([Z > thr] - [Z < -thr]). Returns (loss,
    accuracy of W, fitness signs S_i, W')."""
    dims = list(config.dims())
    L = len(W)
    fac = (normal_factors if normal else factors)(dims, t, pairs, rank, density_permille, seed)
    E = {k: a @ b.T for k, (a, b, _) in fac.items()}
    sigma = 2.0 ** -sigma_shift
    out = _forward(W, xb)
    _, loss, acc = mse_output(out, labels)
    S = []
    for i in range(pairs):
        ls = []
        for sgn in (1, -1):
            Wm = [W[l] + sgn * sigma * E[(i, l + 1)] for l in range(L)]
            G, _, _ = mse_output(_forward(Wm, xb), labels)
            ls.append(float(np.sum(G * G)))
        S.append(int(ls[1] - ls[0] < 0))
    nW = []
    for l in range(L):
        Z = sum((1 - 2 * S[i]) * E[(i, l + 1)] for i in range(pairs))
        move = (Z > threshold).astype(np.float64) - (Z < -threshold).astype(np.float64)
        nW.append(W[l] + 2.0 ** -step_shift * move)
    return loss, acc, S, nW


def float_train(config, data, steps: int, state: dict, normal: bool = False, **params):
    """float64 EGGROLL from the dequantized initial state (``normal``: with normal
    factors, float EGGROLL proper). Returns (losses, accuracies, final float W)."""
    p = {**DEFAULTS, **params}
    sc = float(1 << config.R)
    W = [w / sc for w in state["W"]]
    X = data.X_float()
    losses, accs = [], []
    for t in range(steps):
        xb, labels = float_batch(config, data, X, t)
        loss, acc, _, W = float_step(config, W, xb, labels, t, normal=normal, **p)
        losses.append(loss)
        accs.append(acc)
    return losses, accs, W


def fidelity(run, steps: int | None = None) -> dict:
    """How far the integer rule is from the float one, step by step from the SAME state:
    for each step t, the float64 step from the dequantized integer W_t gives its fitness
    signs and moves; compared with the integer step's (trace). Returns the fraction of
    fitness signs and of weight moves that agree, and the largest |loss gap| between the
    integer and float evaluations of W_t."""
    cfg, data = run.config, run.data
    p = {**DEFAULTS, **run.method_params}
    sc = float(1 << cfg.R)
    X = data.X_float()
    n = run.n_steps if steps is None else steps
    signs = agree_s = moves = agree_m = 0
    gap = 0.0
    for t, st in enumerate(run.iter_steps(0, n)):      # one pass (a run not in memory replays)
        tr = st.tensors
        W = [tr[f"W_{l}"] / sc for l in range(1, cfg.layers + 1)]
        xb, labels = float_batch(cfg, data, X, t)
        loss, _, S, nW = float_step(cfg, W, xb, labels, t, **p)
        Si = [int(tr[f"Sf_{fitness_id(i)}"][0]) for i in range(p["pairs"])]
        signs += len(S)
        agree_s += sum(a == b for a, b in zip(S, Si))
        for l in range(cfg.layers):
            fm = np.sign(nW[l] - W[l]).astype(np.int64)
            im = -np.sign(tr[f"dW_{l + 1}"])
            moves += fm.size
            agree_m += int(np.sum(fm == im))
        gap = max(gap, abs(loss - run.losses[t]))
    return {"steps": n, "sign_agreement": agree_s / max(signs, 1), "move_agreement": agree_m / max(moves, 1),
            "max_loss_gap": gap}


# ----------------------------------------------------------------------------- table
def main(argv=None) -> None:
    """The fidelity table of docs/METHODS.md and the README:

        python -m zkdl.methods.eggroll_trace --steps 300 [--method-param pairs=8 ...]
    """
    import argparse

    import zkdl
    from zkdl import data as D
    from zkdl.config import TrainConfig
    from zkdl.reference import accuracy_float
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--method-param", action="append", default=[])
    args = ap.parse_args(argv)
    params = {k: int(v) for k, v in (kv.split("=", 1) for kv in args.method_param)}
    sets = [("synthetic", D.synthetic(), TrainConfig(width=32, batch_size=32))]
    try:
        sets.append(("digits", D.digits(), TrainConfig(width=64, layers=3, batch_size=32)))
    except zkdl.errors.DataError as exc:
        print(f"(digits left out: {exc})")
    print("| data | params | steps | sign / move agreement (same state) | max loss gap per step (first 100) | "
          "loss (int) first -> last | final accuracy int | float (same factors) | float (normal factors) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, data, cfg in sets:
        run = zkdl.train(cfg, data, steps=args.steps, method="eggroll", method_params=params)
        fid = fidelity(run, min(args.steps, 100))
        lf, _, Wf = float_train(run.config, data, args.steps, run.state(0), **run.method_params)
        _, _, Wn = float_train(run.config, data, args.steps, run.state(0), normal=True, **run.method_params)
        n = min(100, args.steps)
        li, lf = np.array(run.losses[:n]), np.array(lf[:n])
        gap = float(np.max(np.abs(li - lf) / lf))
        shown = ", ".join(f"{k}={v}" for k, v in sorted(params.items())) or "defaults"
        print(f"| {name} | {shown} | {args.steps} | {fid['sign_agreement'] * 100:.1f}% / "
              f"{fid['move_agreement'] * 100:.1f}% | {gap * 100:.4f}% | {run.losses[0]:.4f} -> {run.losses[-1]:.4f} | "
              f"{run.accuracy() * 100:.1f}% | {accuracy_float(Wf, data) * 100:.1f}% | "
              f"{accuracy_float(Wn, data) * 100:.1f}% |", flush=True)


if __name__ == "__main__":
    main()
