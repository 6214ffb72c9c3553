"""Training method ``subset_momentum``: heavy-ball momentum on a public random subset of
the top layers per step (pure Python, verifier-safe).

The layer schedule of Drop-Muon (Gruntkowska et al. 2025: at step t only layers
s_t..L update) with heavy-ball momentum (Polyak 1964) in place of Muon. The start layer
s_t is public: :func:`subset_start` (SHA-256 of the method's ``subset_seed`` and the
absolute step, uniform in 1..L). The momentum is kept as the velocity V = eta M, so that
M' = beta M + G_W, W' = W - eta M' reads V' = beta V + eta G_W, W' = W - V' -- one
rescale per update. In integers (scale 2^R, beta = b / 2^kb, eta = a / 2^k, round half
up, remainder range-checked):

    V'  = round((b 2^(R+k) V + a 2^kb A_in^T G_Z) / 2^(R+k+kb))     layers l >= s_t
    W'  = W - V'
    V', W' = V, W                                                   layers l < s_t

A layer outside the subset commits nothing for its update: its W and V at the next step
are the same tensors (identity links in the circuit's chain relations). V and W chain
across proofs (statement ``initial`` = [W0, V0], ``final`` = [W_final, V_final]); V0 = 0.
The forward pass is SGD's; the backward pass runs into layer l only at the steps where l
updates (nothing below s_t is computed into the proof). Parameters: ``beta_num`` b (29), ``beta_shift`` kb (5: beta = 0.906),
``subset_seed`` (0).
"""

from __future__ import annotations

import hashlib
import json

from zkdl.circuits.builder import CircuitBuilder, Method, Op, register_method
from zkdl.circuits.ir import CircuitError
from zkdl.circuits.sgd_mlp import mlp_forward, mlp_layer_runs

__all__ = ["SubsetMomentumMethod", "subset_start", "update_steps", "update_inputs", "subset_backward",
           "subset_chains"]


def subset_start(seed: int, layers: int, step: int) -> int:
    """s_t in 1..L: 1 + (the first 8 bytes of SHA-256("zkdl/subset/v1|[seed, L, t]") as
    an integer) mod L (bias below L / 2^64)."""
    h = hashlib.sha256(b"zkdl/subset/v1|" + json.dumps([int(seed), int(layers), int(step)]).encode()).digest()
    return 1 + int.from_bytes(h[:8], "big") % layers


def update_steps(seed: int, layers: int, t0: int | None, T: int) -> dict:
    """layer -> the window steps (relative) at which it updates. ``t0=None``: the smallest
    window (only the top layer updates), the verifier's size bound."""
    starts = [layers if t0 is None else subset_start(seed, layers, t0 + t) for t in range(T)]
    return {l: [t for t in range(T) if l >= starts[t]] for l in range(1, layers + 1)}


class SubsetMomentumMethod(Method):
    """Heavy-ball momentum on the top layers s_t..L of each step (module docstring)."""

    name = "subset_momentum"
    params = {"beta_num": 29, "beta_shift": 5, "subset_seed": 0}
    tracer_step = "zkdl.methods.subset_momentum_trace:trace_step"
    initial_state = "zkdl.methods.subset_momentum_trace:initial_state"
    statement = {"dataset": ["Xdata", "Ydata"], "initial": ["W0", "V0"], "final": ["W_final", "V_final"],
                 "outputs": {"loss": "losses"}}
    state_of = {"W0": "W", "W_final": "W", "V0": "V", "V_final": "V"}
    window_dependent = True

    def validate(self, config, steps: int) -> None:
        if config.loss != "mse":
            raise CircuitError(f"subset_momentum supports loss 'mse' only, got {config.loss!r}")
        b, kb = self.params["beta_num"], self.params["beta_shift"]
        if not (0 <= kb <= 16 and 0 <= b < (1 << kb)):
            raise CircuitError(f"subset_momentum: need 0 <= beta_shift <= 16 and 0 <= beta_num < 2^beta_shift "
                               f"(beta < 1), got {b}/2^{kb}")
        if not 0 <= self.params["subset_seed"] < (1 << 62):
            raise CircuitError("subset_momentum: subset_seed must be in [0, 2^62)")

    def build(self, b: CircuitBuilder) -> None:
        from zkdl.circuits import gadgets as g
        cfg, T, d = b.config, b.T, b.dims
        L, R, Q, k, ub = cfg.layers, cfg.R, cfg.Q, cfg.lr_shift, cfg.update_bits
        bn, kb = self.params["beta_num"], self.params["beta_shift"]
        ALL, H = list(range(1, L + 1)), list(range(1, L))
        wshape = lambda l: (d[l - 1], d[l])  # noqa: E731
        upd = update_steps(self.params["subset_seed"], L, b.options["t0"], T)
        moving = [l for l in ALL if upd[l]]
        s = R + k + kb
        b.set_layer_runs(mlp_layer_runs(d))
        g.initial_weights(b, "W0", ALL, wshape, Q, check=b.options["check_initial_weights"])
        g.initial_weights(b, "V0", ALL, wshape, ub, check=b.options["check_initial_weights"], trace="V")
        g.data_selection(b, check=b.options["check_dataset"])
        for l in moving:   # per layer: its update steps only
            g.range_value(b, "Vn", [l], wshape, ub, 1 << (ub - 1), steps=upd[l], source=[[1, "Vn_{l}"]])
            g.range_value(b, "remV", [l], wshape, s, 1 << (s - 1), steps=upd[l], source=[[1, "remV_{l}"]],
                          defined=True)
        subset_chains(b, upd, wshape)
        mlp_forward(b)
        subset_backward(b, upd, H)
        for l in moving:
            insts = update_inputs(b, l, upd[l])
            b.relation("update", "matmul", insts,
                       [Op("left", "AinU", coef=cfg.lr_num << kb, transpose=True), Op("right", "GZU"),
                        Op("out", "Vn", coef=1 << s), Op("out", "remV"), Op("out", "V", coef=-(bn << (R + k)))],
                       {"shift": s, "coef": cfg.lr_num << kb})


def update_inputs(b: CircuitBuilder, l: int, steps: list) -> list:
    """AinU, GZU: A_in and G_Z of layer l gathered at its update steps (what its update
    matmul reads); returns the update's instances."""
    d, B = b.dims, b.config.batch_size
    insts = [(t, l) for t in steps]
    for base, src, shape in (("AinU", "Ain", lambda l: (B, d[l - 1])), ("GZU", "G_Z", lambda l: (B, d[l]))):
        b.stacks(base, [l], shape, kind="derived_linear", steps=steps, source=b.tensor(b.stack_of(src, l)).source)
        b.relation(f"gather:{base}", "linear", insts, [Op("out", base), Op("term", src)])
    return insts


def subset_backward(b: CircuitBuilder, upd: dict, H) -> None:
    """The backward pass into hidden layer l only at the steps where l updates (l >=
    s_t; the layers above update too, so their G_Z exists there): per layer, S gathered
    at those steps (SB), G_Z[l+1] W[l+1]^T = 2^R G_A' + remGA, G_Z = (1 - SB) * G_A'."""
    from zkdl.circuits import gadgets as g
    cfg, d, B = b.config, b.dims, b.config.batch_size
    R, Q = cfg.R, cfg.Q
    act = lambda l: (B, d[l])  # noqa: E731
    nxt = lambda l: l + 1  # noqa: E731
    for l in sorted((l for l in H if upd[l]), reverse=True):
        steps, insts = upd[l], [(t, l) for t in upd[l]]
        b.stacks("SB", [l], act, kind="derived_linear", steps=steps, source=[[1, "S_{l}"]])
        b.relation("gather:SB", "linear", insts, [Op("out", "SB"), Op("term", "S")])
        g.range_value(b, "G_Ap", [l], act, Q, 1 << (Q - 1), steps=steps, source=[[1, "G_Ap_{l}"]])
        g.range_value(b, "remGA", [l], act, R, 1 << (R - 1), steps=steps, source=[[1, "remGA_{l}"]],
                      defined=True)
        b.stacks("G_Z", [l], act, kind="derived_product", steps=steps, source=[[1, "G_Z_{l}"]])
        b.relation("relu_bwd", "hadamard", insts, [Op("out", "G_Z"), Op("mask", "SB"), Op("x", "G_Ap")],
                   {"c0": 1, "c1": -1})
        for base, src, shape in (("GZn", "G_Z", lambda l: (B, d[l + 1])), ("Wn", "W", lambda l: (d[l], d[l + 1]))):
            b.stacks(base, [l], shape, kind="derived_linear", steps=steps,
                     source=[[1, ("G_Z" if src == "G_Z" else "W") + "_{next}"]])
            b.relation(f"gather:{base}", "linear", insts, [Op("out", base), Op("term", src, layer=nxt)],
                       gather=True)
        g.rescaled_matmul(b, "backward", insts, left=Op("left", "GZn"), right=Op("right", "Wn", transpose=True),
                          quotient="G_Ap", remainder="remGA", shift=R)


def subset_chains(b: CircuitBuilder, upd: dict, wshape, *, delta: str = "Vn", state: str = "V",
                  new: str = "Vn", state_bits: int | None = None, link: str = "velocity") -> None:
    """W[t] = W0 - sum of the layer's ``delta`` (the update, in ``update_bits``) before t;
    ``state`` (V) at an update step = state0 (V0) or the layer's last ``new`` (V') before
    it; the statement's W_final and state_final (``state_bits`` wide) likewise at T.
    Relations ``chain``, ``link``, ``chain_final``, ``link_final``."""
    T, L, ub = b.T, b.config.layers, b.config.update_bits
    sb = ub if state_bits is None else state_bits
    ALL = list(range(1, L + 1))
    before = lambda t, l: [u for u in upd[l] if u < t]  # noqa: E731
    last = lambda t, l: before(t, l)[-1:]  # noqa: E731
    b.stacks("W", ALL, wshape, kind="derived_linear", source=[[1, "W_{l}"]])
    b.relation("chain", "chain", [(t, l) for t in range(T) for l in ALL],
               [Op("out", "W"), Op("term", "W0", steps=lambda t: [0]),
                Op("term", delta, coef=-1, steps_at=before, optional=True)], gather=True)
    for l in ALL:
        if upd[l]:
            b.stacks(state, [l], wshape, kind="derived_linear", steps=upd[l], source=[[1, state + "_{l}"]])
            b.relation(link, "linear", [(t, l) for t in upd[l]],
                       [Op("out", state), Op("term", state + "0", steps_at=lambda t, l: [0][:not before(t, l)]),
                        Op("term", new, steps_at=last)], gather=True)
    lo = min(b.bound(b.stack_of("W0", l))[0] for l in ALL)
    hi = max(b.bound(b.stack_of("W0", l))[1] for l in ALL)
    du, ds = 1 << (ub - 1), 1 << (sb - 1)
    b.stacks("W_final", ALL, wshape, kind="committed", scope="statement", steps=[T - 1],
             lo=lo - T * du, hi=hi + T * du, source=[[1, "W_next_{l}"]])
    b.relation("chain_final", "chain", [(T - 1, l) for l in ALL],
               [Op("out", "W_final", steps=lambda t: [t]), Op("term", "W0", steps=lambda t: [0]),
                Op("term", delta, coef=-1, steps_at=lambda t, l: before(T, l), optional=True)], gather=True)
    b.stacks(state + "_final", ALL, wshape, kind="committed", scope="statement", steps=[T - 1], lo=-ds, hi=ds - 1,
             source=[[1, state + "_next_{l}"]])
    b.relation(link + "_final", "chain", [(T - 1, l) for l in ALL],
               [Op("out", state + "_final", steps=lambda t: [t]),
                Op("term", state + "0", steps_at=lambda t, l: [0][:not upd[l]]),
                Op("term", new, steps_at=lambda t, l: upd[l][-1:], optional=True)], gather=True)


register_method(SubsetMomentumMethod)
