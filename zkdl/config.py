"""Training configuration: :class:`TrainConfig` (frozen, canonical JSON, digest).

The configuration is part of every public statement, so it has one canonical byte form:
``to_json()`` is JSON with sorted keys and no whitespace, and ``digest()`` is the SHA-256
hex digest of those bytes.

Architecture: ``layers`` linear layers without biases, ReLU after layers 1..L-1. The
hidden widths are ``width`` (an int, repeated ``layers - 1`` times, or a tuple of
``layers - 1`` ints). Input and output sizes come from the data: ``n_features`` and
``n_classes`` are ``None`` in a fresh config and are filled in by :func:`zkdl.train`
(``config.for_data(data)``); a filled-in value that disagrees with the data is an error.
The run's recorded config is always the filled-in one, so its digest pins the whole
architecture.

Learning rate: ``eta = lr_num / 2^lr_shift``, applied to the gradient of the *summed*
loss ``0.5 * sum_b ||out_b - y_b||^2`` over the batch (the 1/B batch-mean factor is
folded into eta: the equivalent mean-loss learning rate is ``eta * batch_size``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from zkdl.errors import ConfigError

__all__ = ["TrainConfig", "CONFIG_VERSION"]

CONFIG_VERSION = 1
MAX_LAYERS = 1024  # layers
MAX_DIM = 1 << 16  # every width, n_features, n_classes and batch_size (as verifier/limits.py MAX_DIM)
MAX_STEPS = 1 << 63  # steps < 2^63 (step numbers are below it)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclass(frozen=True)
class TrainConfig:
    """Quantized SGD training of a bias-free ReLU MLP (see module docstring).

    Fields: ``width`` hidden width(s); ``layers`` number of linear layers (default 8, or
    ``len(width) + 1`` for a tuple); ``batch_size``; ``R`` fractional bits; ``Q`` signed
    bit bound of values (Z', A, G_A', G_Z, W); ``update_bits`` signed bit bound of dW;
    ``lr_num``/``lr_shift``: eta = lr_num / 2^lr_shift; ``steps``; ``batch_seed`` (public
    batch schedule, :mod:`zkdl.schedule`); ``init_seed`` (initial weights); ``loss``
    ("mse" on one-hot targets); ``n_features``/``n_classes`` (from the data).
    """

    width: int | tuple[int, ...] = 32
    layers: int | None = None
    batch_size: int = 32
    R: int = 16
    Q: int = 32
    update_bits: int = 16
    lr_num: int = 1
    lr_shift: int = 9
    steps: int = 200
    batch_seed: int = 0
    init_seed: int = 0
    loss: str = "mse"
    n_features: int | None = None
    n_classes: int | None = None
    version: int = field(default=CONFIG_VERSION)

    def __post_init__(self) -> None:
        w = self.width
        if isinstance(w, list):
            w = tuple(w)
        if _is_int(w):
            layers = 8 if self.layers is None else self.layers
            if not _is_int(layers) or layers < 1:
                raise ConfigError(f"layers must be a positive int, got {layers!r}")
            if layers > MAX_LAYERS:  # before building the widths tuple
                raise ConfigError(f"layers must be at most {MAX_LAYERS}, got {layers}")
            w = (w,) * (layers - 1)
        elif isinstance(w, tuple):
            if self.layers is not None and self.layers != len(w) + 1:
                raise ConfigError(
                    f"width has {len(w)} hidden widths, so layers must be {len(w) + 1}, "
                    f"got layers={str(self.layers)[:40]}")
            layers = len(w) + 1
            if layers > MAX_LAYERS:
                raise ConfigError(f"layers must be at most {MAX_LAYERS}, got {len(w)} hidden widths")
        else:
            raise ConfigError(f"width must be an int or a tuple of ints, got {str(self.width)[:60]}")
        for x in w:
            if not _is_int(x) or not 1 <= x <= MAX_DIM:
                raise ConfigError(f"every hidden width must be an int in [1, {MAX_DIM}], got {str(x)[:40]}")
        object.__setattr__(self, "width", w)
        object.__setattr__(self, "layers", layers)
        self._validate()

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        ints = ["batch_size", "R", "Q", "update_bits", "lr_num", "lr_shift", "steps",
                "batch_seed", "init_seed", "version"]
        for name in ints:
            v = getattr(self, name)
            if not _is_int(v):
                raise ConfigError(f"{name} must be an int, got {v!r}")
        for name in ("n_features", "n_classes"):
            v = getattr(self, name)
            if v is not None and (not _is_int(v) or not 1 <= v <= MAX_DIM):
                raise ConfigError(f"{name} must be None or an int in [1, {MAX_DIM}], got {str(v)[:40]}")
        if self.n_classes is not None and self.n_classes < 2:
            raise ConfigError(f"n_classes must be at least 2, got {self.n_classes}")
        if self.version != CONFIG_VERSION:
            raise ConfigError(f"unsupported config version {self.version} (this zkdl reads {CONFIG_VERSION})")
        if not 1 <= self.batch_size <= MAX_DIM:
            raise ConfigError(f"batch_size must be in [1, {MAX_DIM}], got {str(self.batch_size)[:40]}")
        if not 1 <= self.R <= 30:
            raise ConfigError(f"R (fractional bits) must be in [1, 30], got {self.R}")
        if not self.R + 2 <= self.Q:
            raise ConfigError(f"Q must be at least R + 2 = {self.R + 2} (1.0 must be representable), got Q={self.Q}")
        if self.Q + self.R > 62:
            raise ConfigError(
                f"Q + R must be <= 62 so that Z = 2^R Z' + remZ fits int64, got Q={self.Q}, R={self.R}")
        if not 1 <= self.update_bits <= self.Q:
            raise ConfigError(f"update_bits must be in [1, Q={self.Q}], got {self.update_bits}")
        if self.lr_num < 1 or self.lr_num >= (1 << 16):
            raise ConfigError(f"lr_num (a in eta = a/2^k) must be in [1, 2^16), got {self.lr_num}")
        if self.lr_shift < 0 or self.R + self.lr_shift > 62:
            raise ConfigError(
                f"lr_shift (k in eta = a/2^k) must be >= 0 with R + k <= 62, got k={self.lr_shift}")
        if not 0 <= self.steps < MAX_STEPS:
            raise ConfigError(f"steps must be in [0, 2^63), got {str(self.steps)[:40]}")
        for name in ("batch_seed", "init_seed"):
            v = getattr(self, name)
            if not 0 <= v < (1 << 64):
                raise ConfigError(f"{name} must be in [0, 2^64), got {str(v)[:40]}")
        if self.loss != "mse":
            raise ConfigError(f"loss must be 'mse' (MSE on one-hot targets), got {self.loss!r}")

    # ------------------------------------------------------------------ derived
    @property
    def eta(self) -> float:
        """The learning rate lr_num / 2^lr_shift as a float (for people and the float reference)."""
        return self.lr_num / (1 << self.lr_shift)

    @property
    def hidden(self) -> tuple[int, ...]:
        return tuple(self.width)  # type: ignore[arg-type]

    def dims(self) -> tuple[int, ...]:
        """(d_0, d_1, ..., d_L); requires n_features and n_classes to be known."""
        if self.n_features is None or self.n_classes is None:
            raise ConfigError("n_features/n_classes are not set; use config.for_data(data) first")
        return (self.n_features, *self.hidden, self.n_classes)

    def for_data(self, data: Any) -> "TrainConfig":
        """This config with n_features/n_classes taken from ``data`` (checked if already set)."""
        nf, nc = int(data.n_features), int(data.n_classes)
        if self.n_features is not None and self.n_features != nf:
            raise ConfigError(f"config has n_features={self.n_features} but data {data.name!r} has {nf}")
        if self.n_classes is not None and self.n_classes != nc:
            raise ConfigError(f"config has n_classes={self.n_classes} but data {data.name!r} has {nc}")
        if data.frac_bits != self.R:
            raise ConfigError(
                f"data {data.name!r} is quantized with {data.frac_bits} fractional bits but config has R={self.R}; "
                f"reload it with R={self.R}")
        if self.batch_size > data.n_samples:
            raise ConfigError(
                f"batch_size={self.batch_size} exceeds the {data.n_samples} samples of data {data.name!r}")
        return dataclasses.replace(self, n_features=nf, n_classes=nc)

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ serialization
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["width"] = list(self.width)  # type: ignore[arg-type]
        return d

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no whitespace, widths as a list."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        if not isinstance(d, dict):
            raise ConfigError(f"config must be a JSON object, got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown config field(s): {', '.join(unknown)}")
        d = dict(d)
        if isinstance(d.get("width"), list):
            d["width"] = tuple(d["width"])
        return cls(**d)

    @classmethod
    def from_json(cls, text: str | bytes) -> "TrainConfig":
        try:
            d = json.loads(text)
        except (ValueError, TypeError) as e:
            raise ConfigError(f"config is not valid JSON: {e}") from None
        return cls.from_dict(d)

    def digest(self) -> str:
        """SHA-256 hex digest of the canonical JSON."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()
