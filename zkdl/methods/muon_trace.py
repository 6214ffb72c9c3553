"""Tracer side of ``muon`` (:mod:`zkdl.methods.muon`): the exact integer step, the
initial state (W from the tracer's initialization, M = 0) and a float64 reference of
the same method. Imported only by the tracer (numpy)."""

from __future__ import annotations

from math import isqrt

import numpy as np

from zkdl import quant
from zkdl.methods.muon import NORM_BITS, NS_BITS, NS_COEFS, NS_STEPS, momentum_bits, muon_update_steps, shape_scale
from zkdl.reference import float_batch, float_forward, float_weight_grads, mse_output
from zkdl.tracer import _REMEDY_UPDATE, _REMEDY_VALUE, _State, _metrics, _overflow, forward_backward, init_weights
from zkdl.tracer import check_bits as _fits, exact_product as _mm

__all__ = ["initial_state", "trace_step", "float_train", "float_newton_schulz"]

_NS_FLOAT = (3.4445, -4.7750, 2.0315)


def initial_state(config, beta_num: int = 61, beta_shift: int = 6, momentum_shift: int = 6, subset: int = 1, subset_seed: int = 0) -> dict:
    W = init_weights(config)
    return {"W": W, "M": [np.zeros_like(w) for w in W]}


def _updating(L: int, t: int, params: dict) -> list:
    upd = muon_update_steps(params, L, t, 1)
    return [l for l in range(1, L + 1) if upd[l]]



def _normalize(T: dict, l: int, t: int, Mn: np.ndarray, R: int, scale: int | None = None) -> np.ndarray:
    """N = sum Mn^2 + 1, s = floor(2^K / sqrt(N)) and its residuals, X0 = round(s Mn /
    2^(K-R)). (``scale``: another s, for the tests that show it is rejected.)"""
    K = NORM_BITS
    n2 = int(np.sum(Mn.astype(object) ** 2))
    ne = n2 + 1
    s = isqrt((1 << (2 * K)) // ne) if scale is None else scale
    p, q = s * s * ne, s * ne
    for name, v in (("nrm2", n2), ("nrm2e", ne), ("nscale", s), ("nscale2", s * s), ("nprod", p), ("nlin", q),
                    ("nlow", (1 << (2 * K)) - p), ("nhigh", p + 2 * q + ne - (1 << (2 * K)) - 1)):
        T[f"{name}_{l}"] = np.array([v], dtype=np.int64)
    T[f"nscaleB_{l}"] = np.full(Mn.shape, s, dtype=np.int64)
    T[f"Msc_{l}"] = Mn * np.int64(s)
    X0, T[f"remX0_{l}"] = quant.round_shift(T[f"Msc_{l}"], K - R)
    T[f"X0_{l}"] = _fits(t, l, f"X0_{l}", X0, R + 2)
    return X0


def _round_big(Y: np.ndarray, c: int, s: int) -> tuple[np.ndarray, np.ndarray]:
    """round(c Y / 2^s) (half up) and its remainder, through Python integers (c Y may
    exceed int64; the results do not)."""
    v = Y.astype(object) * c
    q = (v + (1 << (s - 1))) // (1 << s)
    rem = v - q * (1 << s)
    return np.asarray(q, dtype=np.int64), np.asarray(rem, dtype=np.int64)


def _newton_schulz(T: dict, l: int, t: int, X: np.ndarray, cfg, lr: int) -> np.ndarray:
    """Five exact Newton-Schulz steps from X0; returns dW (the fifth folded into it)."""
    R, F, k = cfg.R, NS_BITS, cfg.lr_shift
    a, bc, cc = NS_COEFS
    tall = X.shape[0] > X.shape[1]
    for j in range(NS_STEPS):
        gram = _mm(t, l, f"Ag{j}_{l}", X.T, X) if tall else _mm(t, l, f"Ag{j}_{l}", X, X.T)
        Ag, T[f"remAg{j}_{l}"] = quant.round_shift(gram, R)
        T[f"Ag{j}_{l}"] = _fits(t, l, f"Ag{j}_{l}", Ag, R + 2)
        AA, T[f"remAA{j}_{l}"] = quant.round_shift(_mm(t, l, f"AA{j}_{l}", Ag, Ag), R)
        T[f"AA{j}_{l}"] = _fits(t, l, f"AA{j}_{l}", AA, R + 3)
        Bm = T[f"Bm{j}_{l}"] = bc * Ag + cc * AA
        Y = (_mm(t, l, f"X{j + 1}_{l}", X, Bm) if tall else _mm(t, l, f"X{j + 1}_{l}", Bm, X)) + (a << R) * X
        if j < NS_STEPS - 1:
            X, T[f"remX{j + 1}_{l}"] = quant.round_shift(Y, R + F)
            T[f"X{j + 1}_{l}"] = _fits(t, l, f"X{j + 1}_{l}", X, R + 2)
    dW, T[f"remdW_{l}"] = _round_big(Y, lr, R + 2 * F + k)
    T[f"dW_{l}"] = _fits(t, l, f"dW_{l}", dW, cfg.update_bits, _REMEDY_UPDATE)
    return dW


def trace_step(cfg, data, st: _State, t: int, beta_num: int = 61, beta_shift: int = 6, momentum_shift: int = 6, subset: int = 1,
               subset_seed: int = 0):
    """SGD's forward and backward pass, then on the updating layers the momentum, its
    normalisation, five Newton-Schulz steps and W' = W - dW; the others keep W and M."""
    T, A, Af, GZ, GZf = forward_backward(cfg, data, st, t)
    L, R, Q = cfg.layers, cfg.R, cfg.Q
    d = cfg.dims()
    mb = momentum_bits(d, Q)
    params = {"subset": subset, "subset_seed": subset_seed}
    M = st.extra["M"]
    nW, nM = list(st.W), list(M)
    moving = set(_updating(L, t, params))
    for l in range(1, L + 1):
        T[f"M_{l}"] = M[l - 1]
        if l in moving:
            G = _mm(t, l, f"G_W_{l}", A[l - 1].T, GZ[l])
            c1, c2 = (1 << beta_shift) - beta_num, beta_num << (R + momentum_shift)
            if quant.abs_max(G) * c1 + quant.abs_max(M[l - 1]) * c2 >= 1 << 62:
                raise _overflow(t, l, f"Mn_{l}", None, 63, _REMEDY_VALUE,
                                detail=": the momentum update would overflow int64")
            Mn, T[f"remM_{l}"] = quant.round_shift(G * c1 + M[l - 1] * c2, R + beta_shift + momentum_shift)
            T[f"Mn_{l}"] = _fits(t, l, f"Mn_{l}", Mn, mb)
            X0 = _normalize(T, l, t, Mn, R)
            dW = _newton_schulz(T, l, t, X0, cfg, cfg.lr_num * shape_scale(d[l - 1], d[l]))
            nW[l - 1] = _fits(t, l, f"W_next_{l}", st.W[l - 1] - dW, Q)
            nM[l - 1] = Mn
        T[f"W_next_{l}"], T[f"M_next_{l}"] = nW[l - 1], nM[l - 1]
    loss, acc = _metrics(cfg, T, GZf)
    return T, _State(nW, extra={"M": nM}), loss, acc


def float_newton_schulz(M: np.ndarray, eps: float) -> np.ndarray:
    """float64 Muon orthogonalisation: X0 = M / sqrt(||M||_F^2 + eps^2), five steps of
    X <- a X + (b A + c A^2) X, A = X X^T (on X^T for a tall M)."""
    a, b, c = _NS_FLOAT
    X = M / np.sqrt(np.sum(M * M) + eps * eps)
    tall = X.shape[0] > X.shape[1]
    if tall:
        X = X.T
    for _ in range(NS_STEPS):
        A = X @ X.T
        X = a * X + (b * A + c * A @ A) @ X
    return X.T if tall else X


def float_train(config, data, steps: int, state: dict, beta_num: int = 61, beta_shift: int = 6, momentum_shift: int = 6, subset: int = 1,
                subset_seed: int = 0):
    """float64: M' = beta M + (1 - beta) G_W / 2^j, W' = W - eta sqrt(max(1, d_l /
    d_{l-1})) NS5(M') on the same layers (eps 2^(j-R)), from the dequantized state. Returns (losses, accuracies,
    final float W)."""
    sc = float(1 << config.R)
    W = [w / sc for w in state["W"]]
    msc = float(1 << (config.R - momentum_shift))
    M = [m / msc for m in state["M"]]
    beta = beta_num / float(1 << beta_shift)
    X = data.X_float()
    L = len(W)
    params = {"subset": subset, "subset_seed": subset_seed}
    losses, accs = [], []
    for t in range(steps):
        xb, labels = float_batch(config, data, X, t)
        acts, masks = float_forward(W, xb)
        G, loss, acc = mse_output(acts[-1], labels)
        losses.append(loss)
        accs.append(acc)
        moving = set(_updating(L, t, params))
        grads = float_weight_grads(W, acts, masks, G)
        for l in range(L):
            if l + 1 in moving:
                M[l] = beta * M[l] + (1 - beta) * grads[l] / (1 << momentum_shift)
                m, n = W[l].shape
                W[l] = W[l] - config.eta * np.sqrt(max(1.0, n / m)) * float_newton_schulz(M[l], 1.0 / msc)
    return losses, accs, W
