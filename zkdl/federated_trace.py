"""Federated averaging: the aggregation's exact-integer tracer step and the float64
reference of a whole federated run (prover side: numpy).

The aggregation step of :class:`zkdl.federated.FedAggMethod` (state ``fi0..fi{n-1}``: its
inputs, one int64 array per layer): acc = sum_i c_i FI_i, W' = round(acc / 2^s) (half up),
rem = acc - 2^s W' in [-2^(s-1), 2^(s-1)).
"""

from __future__ import annotations

import numpy as np

from zkdl import quant
from zkdl.errors import OverflowBoundError

__all__ = ["aggregate_step", "initial_state", "effective_weights", "aggregate", "float_federated", "shards",
           "integer_federated", "global_loss", "fidelity"]


def _coefs(params: dict) -> list[int]:
    return [params[f"c{i}"] for i in range(params["inputs"])]


def aggregate(inputs: list[list[np.ndarray]], coefs: list[int], shift: int, Q: int):
    """(W', rem) per layer: 2^s W' + rem = sum_i c_i inputs[i], rem in [-2^(s-1), 2^(s-1))."""
    out, rems = [], []
    for l in range(len(inputs[0])):
        top = sum(abs(c) for c in coefs) * max(int(np.abs(x[l]).max(initial=0)) for x in inputs)
        if top >= 1 << 62:
            raise OverflowBoundError(f"aggregation, layer {l + 1}: the weighted sum does not fit int64")
        acc = np.zeros_like(inputs[0][l], dtype=np.int64)
        for c, x in zip(coefs, inputs):
            acc += np.int64(c) * x[l]
        w, rem = quant.round_shift(acc, shift)
        lim = 1 << (Q - 1)
        if w.size and (w.min() < -lim or w.max() >= lim):
            raise OverflowBoundError(f"aggregation, layer {l + 1}: the new global weights leave the {Q}-bit bound")
        out.append(w)
        rems.append(rem)
    return out, rems


def aggregate_step(cfg, data, st, t: int, shift: int = 12, inputs: int = 1, **coefs):
    from zkdl.tracer import _State
    params = {"shift": shift, "inputs": inputs, **coefs}
    xs = [st.extra[f"fi{i}"] for i in range(inputs)]
    W, rems = aggregate(xs, _coefs(params), shift, cfg.Q)
    T = {}
    for i, x in enumerate(xs):
        for l, w in enumerate(x, 1):
            T[f"fi{i}_{l}"] = w
    for l, (w, r) in enumerate(zip(W, rems), 1):
        T[f"fi_next0_{l}"] = w
        T[f"Frem_{l}"] = r
    nxt = {f"fi{i}": (W if i == 0 else xs[i]) for i in range(inputs)}
    return T, _State(None, extra=nxt), 0.0, 0.0


def initial_state(config, shift: int = 12, inputs: int = 1, **coefs) -> dict:
    from zkdl.tracer import init_weights
    w = init_weights(config)
    return {f"fi{i}": [a.copy() for a in w] for i in range(inputs)}


def effective_weights(config, state: dict, **params):
    return state["fi0"]


def shards(data, K: int):
    """Client k's dataset: rows k, k + K, k + 2K, ... of ``data`` (a Dataset of its own)."""
    from zkdl.data import Dataset
    return [Dataset(f"{data.name}[client {k} of {K}]", data.X[k::K].copy(), data.y[k::K].copy(), data.n_classes,
                    data.frac_bits, data.classes) for k in range(K)]


def float_federated(base_cfg, data, fed: dict, initial_weights) -> dict:
    """The same federated run in float64: local float SGD (zkdl.reference) of each
    participant from the float global weights, the same batches, then
    W_{r+1} = W_r + sum_{k in P_r} q_k D_{r,k} + sum_{k stale} q_k D_{last(k),k}, with
    q_k = u_k / sum u (u as in :func:`zkdl.federated.coefficients`, exact fractions).
    Returns {"weights": [W_0, ..., W_R] (float), "losses": [[mean local loss per client]
    per round]}."""
    from zkdl.config import TrainConfig
    from zkdl.federated import client_config, participants, stale_sources
    from zkdl.reference import train_float
    parts = shards(data, fed["clients"])
    sc = float(1 << base_cfg.R)
    W = [w.astype(np.float64) / sc for w in initial_weights]
    hist, losses = [W], []
    last_update: dict[int, list] = {}
    base = base_cfg.to_dict()
    w = fed["client_weights"]
    for r in range(fed["rounds"]):
        P = participants(fed["participation_seed"], r, fed["clients"], fed["participants"])
        S = stale_sources(fed, r)
        upd, round_losses = {}, {}
        for k in P:
            cfg = TrainConfig.from_dict(client_config(base, r, k, fed["local_steps"]))
            run = train_float(cfg, parts[k], fed["local_steps"], initial_weights=[x.copy() for x in W])
            upd[k] = [a - b for a, b in zip(run.weights, W)]
            round_losses[k] = float(np.mean(run.losses))
        u = {k: w[k] * (1 << fed["beta_shift"]) for k in P}
        u.update({k: w[k] * fed["beta_num"] for k in S})
        U = float(sum(u.values()))
        Wn = [x.copy() for x in W]
        for k, v in u.items():
            d = upd[k] if k in P else last_update[k]
            for l in range(len(Wn)):
                Wn[l] += (v / U) * d[l]
        last_update.update(upd)
        W = Wn
        hist.append(W)
        losses.append(round_losses)
    return {"weights": hist, "losses": losses}


def integer_federated(base_cfg, data, fed: dict) -> list:
    """The exact-integer federated run without proofs (what zkdl.federated_sim proves):
    the global weights [W_0, ..., W_R] (int64 per layer)."""
    from zkdl.config import TrainConfig
    from zkdl.federated import aggregation_inputs, client_config, participants
    from zkdl.tracer import init_weights, train
    cfg = base_cfg.for_data(data)
    parts, base = shards(data, fed["clients"]), cfg.to_dict()
    G, finals = [init_weights(cfg)], {}
    for r in range(fed["rounds"]):
        for k in participants(fed["participation_seed"], r, fed["clients"], fed["participants"]):
            ccfg = TrainConfig.from_dict(client_config(base, r, k, fed["local_steps"]))
            finals[(r, k)] = train(ccfg, parts[k], fed["local_steps"], initial={"W": G[r]}).final_state["W"]
        inputs = aggregation_inputs(fed, r)
        xs = [G[src[1]] if src[0] == "global" else finals[(src[1], src[2])] for src, _ in inputs]
        G.append(aggregate(xs, [c for _, c in inputs], fed["shift"], cfg.Q)[0])
    return G


def global_loss(weights, data, R: int | None = None) -> float:
    """The MSE loss 0.5 ||out - onehot||^2 (mean over the rows) of a model on the whole dataset, in
    float64 (int64 weights are dequantized at scale 2^R)."""
    from zkdl.reference import mse_output, predict_float
    W = [w.astype(np.float64) / float(1 << R) if w.dtype.kind in "iu" else w for w in weights]
    return mse_output(predict_float(W, data.X_float()), data.y)[1]


def fidelity(base_cfg, data, fed: dict) -> list[dict]:
    """Per round r = 0..R: the whole-data loss of the integer global model W_r and of the
    float64 reference's, and their relative gap."""
    from zkdl.tracer import init_weights
    cfg = base_cfg.for_data(data)
    gi = integer_federated(cfg, data, fed)
    gf = float_federated(cfg, data, fed, init_weights(cfg))["weights"]
    out = []
    for r, (a, b) in enumerate(zip(gi, gf)):
        li, lf = global_loss(a, data, cfg.R), global_loss(b, data)
        out.append({"round": r, "loss_int": li, "loss_float": lf, "rel_gap": abs(li - lf) / lf})
    return out
