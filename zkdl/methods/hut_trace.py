"""Tracer side of ``hut`` (:mod:`zkdl.methods.hut`): the exact-integer step (products that
exceed int64 on the way are computed in Python integers), the initial state, the
effective weights and a float64 reference. Imported only by the tracer (numpy)."""

from __future__ import annotations

import numpy as np

from zkdl import quant
from zkdl.methods.lora_trace import _bounded, metrics, rescaled_update
from zkdl.methods.lora_trace import initial_state as _lora_initial
from zkdl.reference import float_batch, float_forward, mse_output
from zkdl.tracer import _REMEDY_VALUE, _State, _overflow, batch_inputs

__all__ = ["initial_state", "trace_step", "effective_weights", "float_train"]

_I64 = 1 << 63


def initial_state(config, rank: int = 4) -> dict:
    """As lora's: the base from the init seed, B uniform in +-2^R / sqrt(d_{l-1}), A = 0."""
    st = _lora_initial(config, rank)
    return {"base": st["base"], "hut_B": st["lora_B"], "hut_A": st["lora_A"]}


def _mm(a, b) -> np.ndarray:
    """a @ b exactly: int64 when it fits, else Python integers (an object array)."""
    try:
        return quant.exact_matmul(np.ascontiguousarray(a), np.ascontiguousarray(b))
    except OverflowError:
        return np.matmul(a.astype(object), b.astype(object))


def _int64(t, l, name, x) -> np.ndarray:
    if x.dtype == object and x.size and (max(x.flat) >= _I64 or min(x.flat) < -_I64):
        raise _overflow(t, l, name, None, 64, _REMEDY_VALUE, detail=": it does not fit int64")
    return x.astype(np.int64)


def _rescale(t, l, name, x, s: int, bits: int, remedy=_REMEDY_VALUE):
    """(round(x / 2^s) within ``bits`` signed bits, the remainder), x int64 or Python ints."""
    q = (x + (1 << (s - 1))) >> s
    rem = x - q * (1 << s)
    return _bounded(t, l, name, _int64(t, l, name, q), bits, remedy), _int64(t, l, f"remainder of {name}", rem)


def _weights3(config, base, B, A, t=0):
    """W3 = 2^(2R) W0 + W0 * (B A) per layer (scale 2^(3R)), with P and H."""
    out = []
    for l, (w, b, a) in enumerate(zip(base, B, A), start=1):
        P = _int64(t, l, f"P_{l}", _mm(b, a))
        H = _int64(t, l, f"H_{l}", w.astype(object) * P if quant.abs_max(w) * quant.abs_max(P) >= _I64 // 2
                   else w * P)
        W3 = _int64(t, l, f"W3_{l}", w.astype(object) * (1 << (2 * config.R)) + H)
        out.append((P, H, W3))
    return out


def effective_weights(config, state: dict, rank: int = 4) -> list:
    """W = round(W3 / 2^(2R)) at scale 2^R (prediction and export)."""
    return [quant.round_shift(W3, 2 * config.R)[0]
            for _, _, W3 in _weights3(config, state["base"], state["hut_B"], state["hut_A"])]


def trace_step(cfg, data, st: _State, t: int, rank: int = 4):
    """One exact step of the Hadamard adapter (formulas in :mod:`zkdl.methods.hut`)."""
    L, R, Q = cfg.layers, cfg.R, cfg.Q
    base, LB, LA = st.extra["base"], st.extra["hut_B"], st.extra["hut_A"]
    T = batch_inputs(cfg, data, t)
    W3s = _weights3(cfg, base, LB, LA, t)
    acts, S = [T["A_0"]], [None] * (L + 1)
    for l in range(1, L + 1):
        T[f"base_{l}"], T[f"hut_B_{l}"], T[f"hut_A_{l}"] = base[l - 1], LB[l - 1], LA[l - 1]
        T[f"P_{l}"], T[f"H_{l}"], T[f"W3_{l}"] = W3s[l - 1]
        Zp, T[f"remZ_{l}"] = _rescale(t, l, f"Zp_{l}", _mm(acts[l - 1], W3s[l - 1][2]), 3 * R, Q)
        T[f"Zp_{l}"] = Zp
        if l < L:
            S[l] = T[f"S_{l}"] = (Zp < 0).astype(np.int64)
            acts.append(np.where(S[l] == 1, 0, Zp))
            T[f"A_{l}"] = acts[l]
        else:
            T[f"G_Z_{l}"] = _bounded(t, l, f"G_Z_{l}", Zp - T["Y"], Q)
    for l in range(L, 1, -1):
        GAp, T[f"remGA_{l - 1}"] = _rescale(t, l - 1, f"G_Ap_{l - 1}", _mm(T[f"G_Z_{l}"], W3s[l - 1][2].T), 3 * R, Q)
        T[f"G_Ap_{l - 1}"] = GAp
        T[f"G_Z_{l - 1}"] = np.where(S[l - 1] == 1, 0, GAp)
    s, nB, nA = 3 * R + cfg.lr_shift, [], []
    for l in range(1, L + 1):
        GW = T[f"GW_{l}"] = _int64(t, l, f"G_W_{l}", _mm(acts[l - 1].T, T[f"G_Z_{l}"]))
        GP = T[f"GP_{l}"] = _int64(t, l, f"GP_{l}", base[l - 1].astype(object) * GW)
        nB.append(rescaled_update(cfg, t, l, T, "LB", _mm(GP, LA[l - 1].T), LB[l - 1], s))
        nA.append(rescaled_update(cfg, t, l, T, "LA", _mm(LB[l - 1].T, GP), LA[l - 1], s))
        T[f"hut_B_next_{l}"], T[f"hut_A_next_{l}"] = nB[-1], nA[-1]
    return (T, _State(None, extra={"base": base, "hut_B": nB, "hut_A": nA})) + metrics(cfg, T)


def float_train(config, data, steps: int, state: dict, rank: int = 4):
    """float64: W = W0 * (1 + B A), dB = eta (G_W * W0) A^T, dA = eta B^T (G_W * W0).
    Returns (losses, accuracies, final float W)."""
    sc = float(1 << config.R)
    W0 = [w / sc for w in state["base"]]
    Bs = [b / sc for b in state["hut_B"]]
    As = [a / sc for a in state["hut_A"]]
    X = data.X_float()
    L = len(W0)
    losses, accs = [], []
    for t in range(steps):
        xb, labels = float_batch(config, data, X, t)
        W = [w + w * (b @ a) for w, b, a in zip(W0, Bs, As)]
        acts, masks = float_forward(W, xb)
        G, loss, acc = mse_output(acts[-1], labels)
        losses.append(loss)
        accs.append(acc)
        for l in range(L - 1, -1, -1):
            GP = (acts[l].T @ G) * W0[l]
            if l > 0:
                G = (G @ W[l].T) * masks[l - 1]
            Bs[l], As[l] = Bs[l] - config.eta * GP @ As[l].T, As[l] - config.eta * Bs[l].T @ GP
    return losses, accs, [w + w * (b @ a) for w, b, a in zip(W0, Bs, As)]
