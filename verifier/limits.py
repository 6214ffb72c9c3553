"""Bounds on what a proof may state, checked before any work proportional to it.

The verifier builds the circuit of a proof from its header's config and window, so the
window's size is bounded first: the circuit's source tables have L T (step, layer)
instances and L T (T + 1) / 2 weight-chain terms (W[t] = W[t0] - sum_{s<t} dW[s]).
"""

from __future__ import annotations

from zkdl.errors import ConfigError

MAX_DIM = 1 << 16
MAX_SAMPLES = 1 << 26  # the verifier recomputes the batch schedule (O(N) per epoch)
MAX_CHAIN_TERMS = 1 << 22  # L T (T + 1) / 2: e.g. T <= 1023 at 8 layers (~4 s of tables for the verifier)
MAX_INSTANCES = 1 << 14  # L T: (step, layer) instances of a window, e.g. T <= 16 at 1024 layers
MAX_STEPS = 4096


def log2ceil(n: int) -> int:
    return max(0, (int(n) - 1).bit_length())


def check_window(config, t0: int, T: int, n_samples: int) -> None:
    """Raise ConfigError unless steps t0..t0+T-1 of ``config`` on ``n_samples`` rows are
    within the limits a proof may have (and the integer relations cannot wrap)."""
    dims = tuple(int(d) for d in config.dims())
    for name, v in (("t0", t0), ("T", T), ("n_samples", n_samples)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise ConfigError(f"{name} must be an int, got {v!r}")
    if t0 < 0 or T < 1 or T > MAX_STEPS:
        raise ConfigError(f"bad step window t0={t0}, T={T} (need t0 >= 0, 1 <= T <= {MAX_STEPS})")
    if config.layers * T > MAX_INSTANCES:
        raise ConfigError(f"a window of {T} steps of a {config.layers}-layer model has {config.layers * T} "
                          f"(step, layer) instances, more than the {MAX_INSTANCES} a proof may have "
                          f"(use shorter windows)")
    if config.layers * T * (T + 1) // 2 > MAX_CHAIN_TERMS:
        raise ConfigError(f"a window of {T} steps of a {config.layers}-layer model has "
                          f"{config.layers * T * (T + 1) // 2} weight-chain terms, more than the "
                          f"{MAX_CHAIN_TERMS} a proof may have (use shorter windows)")
    if n_samples > MAX_SAMPLES:
        raise ConfigError(f"datasets of more than {MAX_SAMPLES} rows are not supported (got {n_samples})")
    if n_samples < config.batch_size:
        raise ConfigError(f"dataset of {n_samples} rows is smaller than the batch ({config.batch_size})")
    if any(d < 1 or d > MAX_DIM for d in dims) or not 1 <= config.batch_size <= MAX_DIM:
        raise ConfigError(f"dimensions must lie in 1..{MAX_DIM}")
    if (2 * config.Q + 16 + max(log2ceil(d) for d in dims) + log2ceil(config.batch_size)
            + config.lr_num.bit_length() > 250):
        raise ConfigError("Q too large: integer relations could wrap around the field modulus")
