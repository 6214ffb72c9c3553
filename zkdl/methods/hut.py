"""Training method ``hut``: a Hadamard adapter on a frozen base (pure Python, verifier-safe).

In the spirit of HUT (Chen et al., "Parameter-efficient fine-tuning with Hadamard updated
transformation", 2024): the frozen base is updated multiplicatively, W_l = W0_l + W0_l *
(B_l A_l) element-wise (= W0 * (1 + B A)), with B_l (d_{l-1} x r) and A_l (r x d_l)
trained by SGD. The element-wise product breaks LoRA's factorization, so W is formed --
but exactly, at scale 2^(3R), as a tensor the proof derives (never committed):

    P  = B A                      (scale 2^(2R), defined by its matmul)
    H  = W0 * P                   (2^(3R), a Hadamard product of the gathered base and P)
    W3 = 2^(2R) W0 + H            (2^(3R): the effective weights, a linear form)
    Z' = round(Ain W3 / 2^(3R));  G_A'[l] = round(G_Z[l+1] W3[l+1]^T / 2^(3R))
    G_W = Ain^T G_Z;  GP = W0 * G_W                          (dL/dP, both defined)
    dB = round(a GP A^T / 2^(3R+k));  dA = round(a B^T GP / 2^(3R+k));  B' = B - dB, A' = A - dA

Per step the proof commits the activations, dB and dA and the range checks of the
remainders (3R and 3R + k bits); the d_{l-1} x d_l tensors P, H, W3, G_W and GP are all
derived. The base is a ``frozen`` statement tensor, as in ``lora``. Parameter ``rank``
(4). Initial state: the base is the tracer's initialization (or ``--base``), B uniform in
+-2^R / sqrt(d_{l-1}) from the init seed, A = 0 (so W = W0 at the start).
"""

from __future__ import annotations

from zkdl.circuits.builder import CircuitBuilder, Method, Op, register_method
from zkdl.circuits.sgd_mlp import mlp_layer_runs
from zkdl.methods.lora import _insts, _product_bound, adapters, check_adapter_method, frozen_base

__all__ = ["HUTMethod"]


class HUTMethod(Method):
    """Hadamard adapter W = W0 + W0 * (B A) of the bias-free ReLU MLP, MSE loss."""

    name = "hut"
    params = {"rank": 4}
    tracer_step = "zkdl.methods.hut_trace:trace_step"
    initial_state = "zkdl.methods.hut_trace:initial_state"
    effective_weights = "zkdl.methods.hut_trace:effective_weights"
    statement = {"dataset": ["Xdata", "Ydata"], "frozen": ["Wbase"], "initial": ["LB0", "LA0"],
                 "final": ["LB_final", "LA_final"], "outputs": {"loss": "losses"}}
    state_of = {"Wbase": "base", "LB0": "hut_B", "LA0": "hut_A", "LB_final": "hut_B", "LA_final": "hut_A"}
    constant_state = ("base",)

    def validate(self, config, steps: int) -> None:
        check_adapter_method(self, config)

    def build(self, b: CircuitBuilder) -> None:
        from zkdl.circuits import gadgets as g
        cfg, d, B = b.config, b.dims, b.config.batch_size
        L, R, Q, k, r = cfg.layers, cfg.R, cfg.Q, cfg.lr_shift, self.params["rank"]
        ALL, H = list(range(1, L + 1)), list(range(1, L))
        wshape = lambda l: (d[l - 1], d[l])  # noqa: E731
        act = lambda l: (B, d[l])  # noqa: E731
        half = lambda n: 1 << (n - 1)  # noqa: E731
        insts = _insts(b, ALL)
        b.set_layer_runs(mlp_layer_runs(d))
        frozen_base(b)
        adapters(b, "hut_B", "hut_A", r, 3 * R + k)
        g.data_selection(b, check=b.options["check_dataset"])
        # the effective weights at scale 2^(3R): P = B A, H = W0 * P, W3 = 2^(2R) W0 + H
        pb = _product_bound(b, "LB", "LA", ALL, lambda l: r)
        b.stacks("P", ALL, wshape, kind="derived_product", lo=-pb, hi=pb, source=[[1, "P_{l}"]])
        b.relation("adapter", "matmul", insts, [Op("left", "LB"), Op("right", "LA"), Op("out", "P")],
                   {"shift": 0, "coef": 1})
        b.stacks("H", ALL, wshape, kind="derived_product", source=[[1, "H_{l}"]])
        b.relation("hadamard", "hadamard", insts, [Op("out", "H"), Op("mask", "Wb"), Op("x", "P")],
                   {"c0": 0, "c1": 1})
        b.stacks("W3", ALL, wshape, kind="derived_linear", source=[[1, "W3_{l}"]])
        b.relation("effective", "linear", insts, [Op("out", "W3"), Op("term", "Wb", coef=1 << (2 * R)),
                                                  Op("term", "H")])
        # forward and backward with W3 (rescale by 2^(3R))
        g.zkrelu_forward(b, H, act, Q)
        g.range_value(b, "Zp", [L], act, Q, half(Q), role=lambda l: "out", source=[[1, "Zp_{l}"]])
        g.range_value(b, "remZ", ALL, act, 3 * R, half(3 * R), source=[[1, "remZ_{l}"]], defined=True)
        g.gather(b, "Ain", "A", ALL, lambda l: (B, d[l - 1]), lambda l: l - 1, [[1, "A_{prev}"]])
        g.rescaled_matmul(b, "forward", insts, left=Op("left", "Ain"), right=Op("right", "W3"), quotient="Zp",
                          remainder="remZ", shift=3 * R)
        g.mse_gradient(b, L, act)
        if H:
            g.range_value(b, "G_Ap", H, act, Q, half(Q), source=[[1, "G_Ap_{l}"]])
            g.range_value(b, "remGA", H, act, 3 * R, half(3 * R), source=[[1, "remGA_{l}"]], defined=True)
            g.zkrelu_backward(b, H, act)
            g.gather(b, "GZn", "G_Z", H, lambda l: (B, d[l + 1]), lambda l: l + 1, [[1, "G_Z_{next}"]])
            g.gather(b, "W3n", "W3", H, lambda l: (d[l], d[l + 1]), lambda l: l + 1, [[1, "W3_{next}"]])
            g.rescaled_matmul(b, "backward", _insts(b, H), left=Op("left", "GZn"),
                              right=Op("right", "W3n", transpose=True), quotient="G_Ap", remainder="remGA",
                              shift=3 * R)
        # the adapters' gradients through GP = W0 * G_W
        gw = _product_bound(b, "Ain", "G_Z", ALL, lambda l: B)
        b.stacks("GW", ALL, wshape, kind="derived_product", lo=-gw, hi=gw, source=[[1, "GW_{l}"]])
        b.relation("weight_grad", "matmul", insts, [Op("left", "Ain", transpose=True), Op("right", "G_Z"),
                                                    Op("out", "GW")], {"shift": 0, "coef": 1})
        b.stacks("GP", ALL, wshape, kind="derived_product", source=[[1, "GP_{l}"]])
        b.relation("base_grad", "hadamard", insts, [Op("out", "GP"), Op("mask", "Wb"), Op("x", "GW")],
                   {"c0": 0, "c1": 1})
        a, s = cfg.lr_num, 3 * R + k
        g.rescaled_matmul(b, "update_B", insts, left=Op("left", "GP"), right=Op("right", "LA", transpose=True),
                          quotient="dLB", remainder="remLB", shift=s, coef=a)
        g.rescaled_matmul(b, "update_A", insts, left=Op("left", "LB", transpose=True), right=Op("right", "GP"),
                          quotient="dLA", remainder="remLA", shift=s, coef=a)
        if b.options.get("prove_loss"):
            g.mse_loss_output(b, L)


register_method(HUTMethod)
