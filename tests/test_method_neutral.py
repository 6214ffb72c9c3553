"""No module in prover/ or verifier/ names a training method's tensors (issue 14): what
a proof proves, commits and states comes from the circuit and its method's statement
declaration, so another method needs no change there."""

import io
import pathlib
import tokenize

from zkdl.circuits.builder import METHODS, build_circuit, discover_methods
from zkdl.config import TrainConfig

ROOT = pathlib.Path(__file__).resolve().parents[1]


def string_literals(path):
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if tok.type == tokenize.STRING:
            out.append((tok.start[0], tok.string))
    return out


def method_tensor_bases():
    cfg = TrainConfig(width=(6, 5), batch_size=3, n_features=3, n_classes=3)
    discover_methods()      # the shipped methods (lora, hut, sltrain, subset_momentum) are entry points
    assert {"lora", "hut", "sltrain", "subset_momentum"} <= set(METHODS)
    bases = set()
    for name in METHODS:
        one_step = name == "eval_accuracy"     # (a one-step circuit that proves no loss)
        c = build_circuit(cfg, steps=1 if one_step else 2, n_samples=40, method=name, prove_loss=not one_step)
        bases |= {t.base for t in c.tensors} | {t.base.split(".")[0] for t in c.tensors}
    return bases


def test_prover_and_verifier_name_no_method_tensor():
    bases = method_tensor_bases()
    assert {"W0", "Zp", "G_Z", "Xdata", "loss"} <= bases       # the check can fail
    hits = []
    for folder in ("prover", "verifier"):
        for path in sorted((ROOT / folder).glob("*.py")):
            for line, lit in string_literals(path):
                body = lit.lstrip("rbfRBF")[1:-1].strip("'\"")
                for b in bases:
                    if body == b or body.startswith((b + "[", b + "/", b + ".", b + "_{")):
                        hits.append(f"{path.relative_to(ROOT)}:{line}: {lit}")
    assert not hits, "\n".join(hits)
