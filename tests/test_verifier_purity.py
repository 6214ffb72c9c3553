"""The verifier side imports no prover, numba, CuPy or tracer code (DESIGN.md s. 1).

Checked in a fresh interpreter so other tests' imports do not interfere."""

import json
import subprocess
import sys

VERIFIER_SIDE = ["zkdl", "zkdl.errors", "zkdl.field", "zkdl.poly", "zkdl.transcript",
                 "zkdl.encoding", "zkdl.sumcheck", "zkdl.claims", "zkdl.reductions", "zkdl.prooffile",
                 "zkdl.curve", "zkdl.hyrax", "zkdl.sigma", "zkdl.config", "zkdl.schedule",
                 "zkdl.circuits.ir", "zkdl.circuits.builder", "zkdl.circuits.lookup", "zkdl.logup",
                 "zkdl.verifier", "zkdl.verifier.limits",
                 "zkdl.verifier.compile", "zkdl.verifier.verify", "zkdl.audit", "zkdl.report",
                 "zkdl.verify_pool", "zkdl._verify_worker", "zkdl.federated", "zkdl.federated_audit",
                 "zkdl.federated_report", "zkdl.eval_claim", "zkdl.eval_cli"]
FORBIDDEN_PREFIXES = ["numba", "cupy", "zkdl.prover", "zkdl.tracer", "zkdl.field.vector",
                      "zkdl.field.kernels", "llvmlite"]


def test_verifier_modules_import_no_prover_code():
    code = (
        "import importlib, json, sys\n"
        f"for m in {VERIFIER_SIDE!r}: importlib.import_module(m)\n"
        # every registered training method's circuit module (built-in and entry-point plugins)
        "from zkdl.circuits.builder import METHODS, discover_methods\n"
        "discover_methods()\n"
        "for cls in list(METHODS.values()): importlib.import_module(cls.__module__)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    loaded = json.loads(out.stdout)
    bad = [m for m in loaded if any(m == p or m.startswith(p + ".") for p in FORBIDDEN_PREFIXES)]
    assert bad == []
    # and the check itself can fail: the prover side does pull numba in
    code2 = "import sys, zkdl.prover.sumcheck; print('numba' in sys.modules)"
    out2 = subprocess.run([sys.executable, "-c", code2], check=True, capture_output=True, text=True)
    assert out2.stdout.strip() == "True"
