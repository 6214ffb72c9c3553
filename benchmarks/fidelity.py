"""Fidelity of each training method's exact-integer tracer against its float64 reference
(issue 16): the same initial state, the same batches, only rounding differs.

    python benchmarks/fidelity.py                 # synthetic and digits (scikit-learn)
    python benchmarks/fidelity.py --steps 300

Columns: data, method, learning rate, the largest relative gap |loss_int - loss_float| /
loss_float over the first 100 steps, per step and of 10-step means (target <= 5%), and
the final accuracy on the training set of the integer model (quantized forward pass of
its effective weights) and of the float one (target: within 1 point). subset_momentum
runs at eta / 8 (its effective step is eta / (1 - beta), about 10.7 eta), sltrain at
eta / 4 (both factors move, so W moves by about eta (|A|^2 + |B|^2) G). lora runs twice:
on the default base (the config's random initialization) and fine-tuning the SGD row's
trained model (``zkdl train --method lora --base MODEL.npz``); hut likewise. muon
(issue 17) runs at eta = 4 / 2^9 (about 0.008, near its reference's 0.02: its step is a
normalised direction, not a gradient).
"""

from __future__ import annotations

import argparse

import numpy as np

import zkdl
from zkdl import data as D
from zkdl.config import TrainConfig
from zkdl.reference import accuracy_float, train_float

METHODS = {"sgd_mlp": {}, "lora": {"rank": 4}, "hut": {"rank": 4}, "sltrain": {"rank": 4, "density_permille": 30},
           "subset_momentum": {}, "muon": {}}
LR = {"muon": (4, 9)}   # Muon's step does not scale with the gradient (eta ~ 0.01, as its reference)


def float_run(method, cfg, data, steps, state, params):
    """(losses, float weights) of the method's float64 reference."""
    if method == "sgd_mlp":
        fr = train_float(cfg, data, steps, initial_weights=state["W"])
        return fr.losses, fr.weights
    if method == "lora":
        from zkdl.methods.lora_trace import float_train
        losses, _, st = float_train(cfg, data, steps, state, **params)
        return losses, [w + b @ a for w, b, a in zip(st["base"], st["lora_B"], st["lora_A"])]
    if method == "hut":
        from zkdl.methods.hut_trace import float_train
    elif method == "sltrain":
        from zkdl.methods.sltrain_trace import float_train
    elif method == "muon":
        from zkdl.methods.muon_trace import float_train
    else:
        from zkdl.methods.subset_momentum_trace import float_train
    losses, _, W = float_train(cfg, data, steps, state, **params)
    return losses, W


def measure(name, data, cfg, method, steps, initial=None):
    params = METHODS[method]
    run = zkdl.train(cfg, data, steps=steps, method=method, method_params=params, initial=initial)
    losses, W = float_run(method, run.config, data, steps, run.state(0), run.method_params)
    n = min(100, steps)
    li, lf = np.array(run.losses[:n]), np.array(losses[:n])
    gap = float(np.max(np.abs(li - lf) / lf))
    mi, mf = li[:n // 10 * 10].reshape(-1, 10).mean(axis=1), lf[:n // 10 * 10].reshape(-1, 10).mean(axis=1)
    mgap = float(np.max(np.abs(mi - mf) / mf)) if len(mi) else gap
    ai, af = run.accuracy(), accuracy_float(W, data)
    label = method + (" (base: the SGD row's model)" if initial else "")
    return run, (f"| {name} | {label} | {cfg.lr_num}/2^{cfg.lr_shift} | {steps} | {gap * 100:.2f}% | "
                 f"{mgap * 100:.2f}% | {run.losses[0]:.4f} -> {run.losses[-1]:.4f} | {ai * 100:.1f}% | "
                 f"{af * 100:.1f}% | {abs(ai - af) * 100:.1f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--methods", default=",".join(METHODS))
    args = ap.parse_args()
    sets = [("synthetic", D.synthetic(), TrainConfig(width=32, batch_size=32, lr_shift=9))]
    try:
        sets.append(("digits", D.digits(), TrainConfig(width=64, layers=3, batch_size=32, lr_shift=11)))
    except zkdl.errors.DataError as exc:
        print(f"(digits left out: {exc})")
    print("| data | method | eta | steps | max loss gap per step (first 100) | of 10-step means | "
          "loss (int) first -> last | final accuracy int | float | gap (points) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, data, cfg in sets:
        trained = None
        for method in args.methods.split(","):
            c = cfg.replace(lr_shift=cfg.lr_shift + {"subset_momentum": 3, "sltrain": 2}.get(method, 0))
            if method in LR:
                c = c.replace(lr_num=LR[method][0], lr_shift=LR[method][1])
            run, line = measure(name, data, c, method, args.steps)
            print(line, flush=True)
            if method == "sgd_mlp":
                trained = run.final_weights
            if method in ("lora", "hut") and trained is not None:   # as they are used: fine-tuning a trained base
                print(measure(name, data, c, method, args.steps, initial={"base": trained})[1], flush=True)


if __name__ == "__main__":
    main()
