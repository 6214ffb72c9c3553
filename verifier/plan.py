"""The shape of an aggregated SGD-MLP proof, computed from public data only.

Both prover and verifier derive the same :class:`Plan` from the config, the step
window and the dataset size. It fixes the FAC4DNN stacking (DESIGN.md section 4):

* Every dimension is padded to a power of two: batch B -> Bp, widths d_l -> D_l.
* Layers with the same padded shapes (D_{l-1}, D_l, D_{l+1}) and the same ReLU-ness,
  split into runs of power-of-two length (:func:`zkdl.circuits.builder.mlp_layer_runs`,
  which also stacks the circuit IR), form the *families* F; its instances are (t, lf) for the T steps of the window and the
  family's layers, stacked on a leading instance axis: index = t << lbits | lf with
  tbits = log2(Tp), lbits = log2(Lp). Padded instances hold zeros.
* Committed witness stacks per family (all other tensors are derived):
    U   bits of Z' + 2^(Q-1) S        (Q-1 bits; last layer: Z' + 2^(Q-1), Q bits)
    S   ReLU sign bits                (ReLU families)
    RZ  bits of remZ + 2^(R-1)        (R bits)
    GA  bits of G_A' + 2^(Q-1)        (Q bits, ReLU families)
    RG  bits of remGA + 2^(R-1)       (R bits, ReLU families)
    DW  bits of dW + 2^(b-1)          (b = update_bits)
    RW  bits of remW + 2^(R+k-1)      (R + k bits)
    W0B bits of W[t0] + 2^(Q-1)       (Q bits, stacked over the family's layers;
                                       only when the plan checks initial weights)
  and, when the plan checks the dataset, XB = bits of X + 2^(Q-1) (Np x D_0, Q bits;
  reported under family 0); the one-hot targets Y are checked to lie in {0, 2^R}.
  Bit tensors put the bit axis last, padded to 2^kbits planes.
* Public per-layer commitments (the statement): W[t0, l], W[t0+T, l] and the dataset
  (X: Np x D_0, Y: Np x D_L one-hot times 2^R); the verifier stacks per-layer
  commitments into family stacks itself, padding with identity rows (zeros).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zkdl.circuits.builder import mlp_layer_runs
from zkdl.errors import ConfigError


def log2ceil(n: int) -> int:
    return max(0, (int(n) - 1).bit_length())


def pad2(n: int) -> int:
    return 1 << log2ceil(n)


@dataclass(frozen=True)
class Family:
    index: int
    layers: tuple[int, ...]
    relu: bool
    din: int  # padded D_{l-1}
    dout: int  # padded D_l
    dnext: int  # padded D_{l+1} (0 for the last layer)

    @property
    def lbits(self) -> int:
        return log2ceil(len(self.layers))

    @property
    def Lp(self) -> int:
        return 1 << self.lbits


@dataclass(frozen=True)
class Plan:
    dims: tuple[int, ...]
    batch: int
    R: int
    Q: int
    update_bits: int
    lr_num: int
    lr_shift: int
    t0: int
    T: int
    n_samples: int
    check_initial_weights: bool
    check_dataset: bool = True
    families: tuple[Family, ...] = field(default=())
    prove_loss: bool = False

    # ---------------------------------------------------------------- sizes
    @property
    def L(self) -> int:
        return len(self.dims) - 1

    @property
    def pdims(self) -> tuple[int, ...]:
        return tuple(pad2(d) for d in self.dims)

    @property
    def bbits(self) -> int:
        return log2ceil(self.batch)

    @property
    def tbits(self) -> int:
        return log2ceil(self.T)

    @property
    def nbits_log(self) -> int:
        return log2ceil(self.n_samples)

    def inst_bits(self, fam: Family) -> int:
        return self.tbits + fam.lbits

    def inst(self, fam: Family, t_rel: int, lf: int) -> int:
        return (t_rel << fam.lbits) | lf

    def locate(self, layer: int) -> tuple[Family, int]:
        for fam in self.families:
            if layer in fam.layers:
                return fam, fam.layers.index(layer)
        raise ConfigError(f"no family holds layer {layer}")

    def value_bits(self, kind: str, fam: Family) -> int:
        """Number of bits of each range-checked value kind."""
        k = self.lr_shift
        return {"U": self.Q - 1 if fam.relu else self.Q, "RZ": self.R, "GA": self.Q, "RG": self.R,
                "DW": self.update_bits, "RW": self.R + k, "W0B": self.Q, "XB": self.Q}[kind]

    def offset(self, kind: str, fam: Family) -> int:
        if kind == "U":
            return 0 if fam.relu else 1 << (self.Q - 1)
        return 1 << (self.value_bits(kind, fam) - 1)

    def kbits(self, kind: str, fam: Family) -> int:
        return log2ceil(self.value_bits(kind, fam))

    def committed(self) -> list[tuple[str, Family, tuple[int, ...]]]:
        """Witness stacks the prover commits, in commitment order: (kind, family, shape)."""
        out = []
        for fam in self.families:
            inst = (1 << self.tbits) * fam.Lp
            rows = (inst, 1 << self.bbits, fam.dout)
            kinds = ["U", "S", "RZ", "GA", "RG"] if fam.relu else ["U", "RZ"]
            for kind in kinds:
                shape = rows if kind == "S" else rows + (1 << self.kbits(kind, fam),)
                out.append((kind, fam, shape))
            for kind in ("DW", "RW"):
                out.append((kind, fam, (inst, fam.din, fam.dout, 1 << self.kbits(kind, fam))))
            if self.check_initial_weights:
                out.append(("W0B", fam, (fam.Lp, fam.din, fam.dout, 1 << self.kbits("W0B", fam))))
        if self.check_dataset:
            fam = self.families[0]
            out.append(("XB", fam, (1 << self.nbits_log, self.pdims[0], 1 << self.kbits("XB", fam))))
        return out

    def to_dict(self) -> dict:
        return {"dims": list(self.dims), "batch": self.batch, "R": self.R, "Q": self.Q,
                "update_bits": self.update_bits, "lr_num": self.lr_num, "lr_shift": self.lr_shift,
                "t0": self.t0, "T": self.T, "n_samples": self.n_samples,
                "check_initial_weights": self.check_initial_weights, "check_dataset": self.check_dataset,
                "prove_loss": self.prove_loss,
                "families": [{"layers": list(f.layers), "relu": f.relu, "din": f.din, "dout": f.dout,
                              "dnext": f.dnext} for f in self.families]}


MAX_DIM = 1 << 16
MAX_SAMPLES = 1 << 26  # the verifier recomputes the batch schedule (O(N) per epoch)
MAX_CHAIN_TERMS = 1 << 22  # L T (T + 1) / 2: e.g. T <= 1023 at 8 layers (~4 s of tables for the verifier)
MAX_INSTANCES = 1 << 14  # L T: (step, layer) instances of a window, e.g. T <= 16 at 1024 layers


def make_plan(config, t0: int, T: int, n_samples: int, check_initial_weights: bool = True,
              check_dataset: bool = True, prove_loss: bool = False) -> Plan:
    """The proof plan for steps t0..t0+T-1 of a run under ``config`` on n_samples rows.
    ``prove_loss``: the per-step training loss is a public output of the proof."""
    dims = tuple(int(d) for d in config.dims())
    for name, v in (("t0", t0), ("T", T), ("n_samples", n_samples)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise ConfigError(f"{name} must be an int, got {v!r}")
    if t0 < 0 or T < 1 or T > 4096:
        raise ConfigError(f"bad step window t0={t0}, T={T} (need t0 >= 0, 1 <= T <= 4096)")
    if config.layers * T > MAX_INSTANCES:
        raise ConfigError(f"a window of {T} steps of a {config.layers}-layer model has {config.layers * T} "
                          f"(step, layer) instances, more than the {MAX_INSTANCES} a proof may have "
                          f"(use shorter windows)")
    if config.layers * T * (T + 1) // 2 > MAX_CHAIN_TERMS:
        # W[t] = W[t0] - sum_{s<t} dW[s]: the verifier tabulates L T (T + 1) / 2 instance-map
        # terms (and builds the circuit's source tables alike), before reading the body
        raise ConfigError(f"a window of {T} steps of a {config.layers}-layer model has "
                          f"{config.layers * T * (T + 1) // 2} weight-chain terms, more than the "
                          f"{MAX_CHAIN_TERMS} a proof may have (use shorter windows)")
    if n_samples > MAX_SAMPLES:
        raise ConfigError(f"datasets of more than {MAX_SAMPLES} rows are not supported (got {n_samples})")
    if n_samples < config.batch_size:
        raise ConfigError(f"dataset of {n_samples} rows is smaller than the batch ({config.batch_size})")
    if any(d < 1 or d > MAX_DIM for d in dims) or not 1 <= config.batch_size <= MAX_DIM:
        raise ConfigError(f"dimensions must lie in 1..{MAX_DIM}")
    if 2 * config.Q + 16 + max(log2ceil(d) for d in dims) + log2ceil(config.batch_size) + config.lr_num.bit_length() > 250:
        raise ConfigError("Q too large: integer relations could wrap around the field modulus")
    pd = [pad2(d) for d in dims]
    L = len(dims) - 1
    runs = mlp_layer_runs(dims)
    fams = tuple(Family(i, tuple(ls), ls[0] < L, pd[ls[0] - 1], pd[ls[0]], pd[ls[0] + 1] if ls[0] < L else 0)
                 for i, ls in enumerate(runs))
    return Plan(dims, int(config.batch_size), int(config.R), int(config.Q), int(config.update_bits),
                int(config.lr_num), int(config.lr_shift), t0, T, n_samples, bool(check_initial_weights),
                bool(check_dataset), fams, bool(prove_loss))
