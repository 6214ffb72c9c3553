"""PyTorch in and out: :func:`from_torch` (an ``nn.Sequential`` of Linear/ReLU layers to a
config and quantized initial state) and :func:`export_torch` (a proven run's released
model as a ``state_dict`` file for the same ``nn.Sequential``).

torch is an optional dependency (``pip install 'zkdl[torch]'``): it is imported inside
these functions only, so ``import zkdl`` never needs it.

Conventions. zkdl's layer l computes Z = A_{l-1} W_l (+ 2^R b_l) with W_l of shape
d_{l-1} x d_l at scale 2^R; torch's ``nn.Linear`` computes x W^T + b with ``weight`` of
shape out x in. So W_l = round(2^R weight^T) and b_l = round(2^R bias) (1 x d_l), round
half up; a stack with biases trains with the method ``sgd_bias`` (docs/METHODS.md), one
without with the built-in ``sgd_mlp``. The export is the inverse map, exactly: weight =
W_l^T / 2^R, bias = b_l / 2^R (float32: exact while |W| < 2^24).
"""

from __future__ import annotations

import io
import os
import tempfile
from typing import NamedTuple

import numpy as np

from zkdl.config import TrainConfig
from zkdl.errors import ConfigError, ZkdlError

__all__ = ["FromTorch", "from_torch", "export_torch", "torch_state_dict", "TorchUnavailable"]


class TorchUnavailable(ZkdlError, ImportError):
    """torch is not installed (it is the optional extra ``zkdl[torch]``)."""


def _torch():
    try:
        import torch
    except ImportError:
        raise TorchUnavailable("PyTorch is not installed: pip install 'zkdl[torch]' (or pip install torch)") from None
    return torch


class FromTorch(NamedTuple):
    """What :func:`from_torch` returns: ``config`` (a TrainConfig with the network's widths,
    n_features and n_classes), ``initial`` (the quantized state: ``{"W": [...]}``, plus
    ``"b"`` with biases), ``method`` (``"sgd_bias"`` with biases, else ``"sgd_mlp"``).
    Train with ``zkdl.train(m.config, data, initial=m.initial, method=m.method)``."""

    config: TrainConfig
    initial: dict
    method: str


def _linears(model) -> list:
    torch = _torch()
    nn = torch.nn
    if not isinstance(model, nn.Sequential):
        raise ConfigError(f"from_torch: expected a torch.nn.Sequential of Linear and ReLU layers, got "
                          f"{type(model).__name__}")
    mods = list(model.children())
    if not mods:
        raise ConfigError("from_torch: the nn.Sequential is empty")
    for i, m in enumerate(mods):
        want = nn.Linear if i % 2 == 0 else nn.ReLU
        if type(m) is not want:
            raise ConfigError(f"from_torch: module {i} is {type(m).__name__}; zkdl proves alternating "
                              f"Linear, ReLU, ..., Linear stacks only (expected {want.__name__} at position {i})")
    if len(mods) % 2 == 0:
        raise ConfigError(f"from_torch: the stack must end with a Linear layer, module {len(mods) - 1} is "
                          f"{type(mods[-1]).__name__}")
    lins = mods[::2]
    for i, (a, b) in enumerate(zip(lins, lins[1:])):
        if a.out_features != b.in_features:
            raise ConfigError(f"from_torch: module {2 * i} has {a.out_features} outputs but module {2 * i + 2} "
                              f"takes {b.in_features} inputs")
    has = [m.bias is not None for m in lins]
    if any(has) and not all(has):
        raise ConfigError("from_torch: either every Linear layer has a bias or none has (got "
                          + ", ".join(f"module {2 * i}: {'bias' if h else 'no bias'}" for i, h in enumerate(has))
                          + ")")
    return lins


def _quantize(x: np.ndarray, R: int, Q: int, what: str) -> np.ndarray:
    v = np.floor(np.asarray(x, dtype=np.float64) * float(1 << R) + 0.5)
    if not np.all(np.isfinite(v)):
        raise ConfigError(f"from_torch: {what} holds a value that is not finite")
    lim = 1 << (Q - 1)
    if v.size and (v.min() < -lim or v.max() >= lim):
        raise ConfigError(f"from_torch: {what} does not fit Q = {Q} bits at scale 2^{R} "
                          f"(|value| up to {float(np.abs(x).max()):.4g}); use a smaller R or a larger Q")
    return v.astype(np.int64)


def from_torch(model, **config) -> FromTorch:
    """A config and the quantized initial state of ``model``, an ``nn.Sequential`` of
    ``Linear, ReLU, Linear, ..., Linear`` (every Linear with a bias, or none). ``config``:
    further TrainConfig fields (``R``, ``Q``, ``batch_size``, ``lr_num``, ...); the widths,
    ``n_features`` and ``n_classes`` come from the layers. Returns a :class:`FromTorch`
    (config, initial, method); anything else (another layer type, a convolution, Dropout, a
    final ReLU, mismatched sizes) raises a ConfigError (a ZkdlError) naming the module."""
    torch = _torch()
    lins = _linears(model)
    for k in ("width", "layers", "n_features", "n_classes"):
        if k in config:
            raise ConfigError(f"from_torch: {k} comes from the model's layers, do not pass it")
    dims = [lins[0].in_features] + [m.out_features for m in lins]
    if dims[-1] < 2:
        raise ConfigError(f"from_torch: the last Linear has {dims[-1]} output; zkdl classifies into >= 2 classes")
    cfg = TrainConfig(width=tuple(dims[1:-1]), layers=len(lins), n_features=dims[0], n_classes=dims[-1], **config)
    W, b = [], []
    with torch.no_grad():
        for i, m in enumerate(lins):
            W.append(np.ascontiguousarray(_quantize(m.weight.detach().double().cpu().numpy().T, cfg.R, cfg.Q,
                                                    f"module {2 * i} weight")))
            if m.bias is not None:
                b.append(_quantize(m.bias.detach().double().cpu().numpy().reshape(1, -1), cfg.R, cfg.Q,
                                   f"module {2 * i} bias"))
    if b:
        return FromTorch(cfg, {"W": W, "b": b}, "sgd_bias")
    return FromTorch(cfg, {"W": W}, "sgd_mlp")


def torch_state_dict(weights, biases, R: int, dtype=None) -> dict:
    """The ``state_dict`` of ``nn.Sequential(Linear, ReLU, ..., Linear)`` for zkdl's integer
    weights (and biases, or None): keys ``{2(l-1)}.weight`` = W_l^T / 2^R (out x in) and
    ``{2(l-1)}.bias`` = b_l / 2^R, float32 by default."""
    torch = _torch()
    dtype = dtype or torch.float32
    sc = float(1 << R)
    out = {}
    for l, w in enumerate(weights):
        out[f"{2 * l}.weight"] = torch.tensor(np.asarray(w, dtype=np.float64).T / sc, dtype=dtype)
        if biases is not None:
            out[f"{2 * l}.bias"] = torch.tensor(np.asarray(biases[l], dtype=np.float64).reshape(-1) / sc, dtype=dtype)
    return out


def export_torch(run_out: str, path: str) -> dict:
    """Write the final weights (and biases) of the last proof in ``run_out`` (a ``zkdl
    train`` / ``zkdl prove`` output directory) as a torch ``state_dict`` file (``.pt``,
    ``torch.save``) for ``nn.Sequential(Linear, ReLU, ..., Linear)``. The opening of the
    proof's final commitment is checked first, as for the ``.npz`` release
    (:func:`zkdl.anchors.export_model`). Returns the release's meta dict (with ``"keys"``:
    the state_dict's keys)."""
    torch = _torch()
    from zkdl.anchors import export_model
    from zkdl.api import atomic_write
    fd, tmp = tempfile.mkstemp(prefix=".zkdl-model-", suffix=".npz",
                               dir=os.path.dirname(os.path.abspath(path)) or None)
    os.close(fd)
    try:
        meta = export_model(run_out, tmp)
        with np.load(tmp, allow_pickle=False) as z:
            L, R = int(meta["layers"]), int(meta["R"])
            weights = [z[f"W{l}"] for l in range(1, L + 1)]
            opened = {(role, base, int(layer)) for role, base, layer in meta.get("opened", [])}
            biases = None
            if meta.get("method", "sgd_mlp") == "sgd_bias":
                biases = [z[f"final.b_final.{l}"] for l in range(1, L + 1) if ("final", "b_final", l) in opened]
                if len(biases) != L:
                    raise ZkdlError(f"{run_out}: the release holds no final biases for {L} layers")
            elif meta.get("opened"):
                raise ZkdlError(f"{run_out}: method {meta.get('method')!r} has no torch export (its state is not "
                                f"Linear weights and biases)")
    finally:
        os.unlink(tmp)
    sd = torch_state_dict(weights, biases, R)
    buf = io.BytesIO()
    torch.save(sd, buf)
    atomic_write(path, buf.getvalue())
    meta["keys"] = list(sd)
    meta["format_torch"] = "nn.Sequential state_dict: {2(l-1)}.weight = W{l}^T / 2^R, {2(l-1)}.bias = b{l} / 2^R"
    return meta
