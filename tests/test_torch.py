"""PyTorch in and out (zkdl.torch_io): from_torch of Linear/ReLU stacks (bias or not), the
rejections, ``zkdl export-model --format torch`` and the round trip torch -> zkdl (2 proven
steps of ``sgd_bias``) -> torch. torch is the optional extra ``zkdl[torch]``: these tests
skip, with the reason printed (``-ra``), where it is not installed, and fail instead where
ZKDL_REQUIRE_TORCH=1 says it must be there (CI: .ci/run installs the CPU build first); zkdl
itself imports without it (checked in a subprocess with torch hidden)."""

import subprocess
import sys

import numpy as np
import pytest

import zkdl
from zkdl import data as D
from zkdl.errors import ConfigError

SKIP = "PyTorch is not installed (optional extra: pip install 'zkdl[torch]'); the torch interop tests need it"

# fixed-point rounding: zkdl rounds every layer's output to 2^-R (half up) where torch
# computes in float32; measured max |difference| of the outputs of the round trip below:
# 1.0e-5 to 1.1e-5 (R = 16, outputs up to 0.5; the same with float64 in torch), about 2^-16
TOL = 1e-4


@pytest.fixture(scope="module")
def torch():
    """torch, or a skip with SKIP printed; with ZKDL_REQUIRE_TORCH=1 (.ci/run, README's test
    command, which install torch) a missing torch fails instead of skipping silently."""
    import os
    if os.environ.get("ZKDL_REQUIRE_TORCH") == "1":
        try:
            import torch
        except ImportError as exc:
            pytest.fail(f"ZKDL_REQUIRE_TORCH=1 but torch does not import ({exc}); install it first: "
                        f"pip install torch==2.13.0 (the CPU build), then pip install -e '.[test,torch]'")
        return torch
    return pytest.importorskip("torch", reason=SKIP)


def mlp(torch, bias=True, seed=0):
    torch.manual_seed(seed)
    nn = torch.nn
    return nn.Sequential(nn.Linear(3, 6, bias=bias), nn.ReLU(), nn.Linear(6, 5, bias=bias), nn.ReLU(),
                         nn.Linear(5, 3, bias=bias))


def test_zkdl_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import zkdl, zkdl.cli, zkdl.torch_io\n"
            "try:\n    zkdl.from_torch(object())\nexcept zkdl.ZkdlError as e:\n    print('refused:', e)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "refused: PyTorch is not installed" in res.stdout and "zkdl[torch]" in res.stdout


def test_from_torch_reads_widths_weights_and_biases(torch):
    m = mlp(torch)
    got = zkdl.from_torch(m, batch_size=4, lr_shift=7)
    cfg, init, method = got
    assert method == "sgd_bias" and cfg.dims() == (3, 6, 5, 3) and cfg.batch_size == 4
    for l, lin in enumerate([m[0], m[2], m[4]]):
        w, b = lin.weight.detach().double().numpy(), lin.bias.detach().double().numpy()
        assert init["W"][l].shape == w.T.shape and init["b"][l].shape == (1, w.shape[0])
        assert np.abs(init["W"][l] / 2 ** 16 - w.T).max() <= 2 ** -17
        assert np.abs(init["b"][l][0] / 2 ** 16 - b).max() <= 2 ** -17
    nb = zkdl.from_torch(mlp(torch, bias=False))
    assert nb.method == "sgd_mlp" and set(nb.initial) == {"W"}


@pytest.mark.parametrize("make,msg", [
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)), "module 1 is Tanh"),
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(), nn.Linear(4, 2)), "module 2 is Dropout"),
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.ReLU()), "must end with a Linear"),
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(5, 2)), "module 0 has 4 outputs"),
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2, bias=False)), "every Linear"),
    (lambda nn: nn.Sequential(nn.Conv1d(1, 1, 3)), "module 0 is Conv1d"),
    (lambda nn: nn.Linear(3, 2), "expected a torch.nn.Sequential"),
    (lambda nn: nn.Sequential(nn.Linear(3, 1)), ">= 2 classes"),
])
def test_from_torch_rejects_what_zkdl_cannot_prove(torch, make, msg):
    with pytest.raises(ConfigError, match=msg):
        zkdl.from_torch(make(torch.nn))


def test_from_torch_refuses_config_it_reads_and_weights_too_large(torch):
    with pytest.raises(ConfigError, match="width comes from the model"):
        zkdl.from_torch(mlp(torch), width=8)
    m = mlp(torch)
    with torch.no_grad():
        m[0].weight[0, 0] = 1e6
    with pytest.raises(ConfigError, match="module 0 weight does not fit Q"):
        zkdl.from_torch(m)


def test_bias_free_state_dict_reloads(torch):
    """sgd_mlp's weights through the state_dict map: torch's forward pass equals zkdl's."""
    from zkdl.torch_io import torch_state_dict
    from zkdl.tracer import predict
    m = zkdl.from_torch(mlp(torch, bias=False))
    back = mlp(torch, bias=False, seed=1)
    back.load_state_dict(torch_state_dict(m.initial["W"], None, 16))
    X = np.random.default_rng(0).integers(-2 ** 17, 2 ** 17, size=(32, 3))
    out = back(torch.tensor(X / 2 ** 16, dtype=torch.float32)).detach().double().numpy()
    assert np.abs(out - predict(m.initial["W"], X, 16) / 2 ** 16).max() < TOL


def test_round_trip_train_prove_export_reload(torch, tmp_path):
    """A default nn.Linear MLP -> from_torch -> 2 steps of sgd_bias -> prove -> export-model
    --format torch -> load_state_dict: the same predictions as zkdl's quantized forward
    pass, up to fixed-point rounding (TOL), and the same classes."""
    from tests.test_cli import invoke, output
    from zkdl.methods.sgd_bias_trace import predict
    model = mlp(torch)
    m = zkdl.from_torch(model, batch_size=4, lr_shift=7)
    data = D.synthetic(n_samples=40, n_features=3, n_classes=3)
    run = zkdl.train(m.config, data, steps=2, out_dir=tmp_path / "run", method=m.method, initial=m.initial)
    res = invoke("prove", tmp_path / "run", "--out", tmp_path / "out", "--window", "2", "--no-zk", "-q")
    assert res.exit_code == 0, output(res)
    res = invoke("export-model", tmp_path / "out", "--format", "torch")
    assert res.exit_code == 0, output(res)
    assert "0.weight, 0.bias, 2.weight" in output(res)
    sd = torch.load(tmp_path / "out" / "model.pt")
    back = mlp(torch, seed=1)
    back.load_state_dict(sd)          # strict: every key of the nn.Sequential, nothing else
    W, b = run.final_state["W"], run.final_state["b"]
    assert not np.array_equal(W[0], m.initial["W"][0]) and not np.array_equal(b[0], m.initial["b"][0])
    for l, k in enumerate(("0", "2", "4")):   # exactly the dequantized integers
        assert np.array_equal(sd[f"{k}.weight"].double().numpy(), W[l].T / 2 ** 16)
        assert np.array_equal(sd[f"{k}.bias"].double().numpy(), b[l][0] / 2 ** 16)
    ours = predict(W, b, data.X, 16) / 2 ** 16
    theirs = back(torch.tensor(data.X / 2 ** 16, dtype=torch.float32)).detach().double().numpy()
    assert np.abs(ours - theirs).max() < TOL, np.abs(ours - theirs).max()
    assert np.array_equal(np.argmax(ours, axis=1), np.argmax(theirs, axis=1))
    res = invoke("export-model", tmp_path / "out", "--format", "torch")
    assert res.exit_code == 2 and "exists" in output(res)


def test_export_torch_of_bias_free_and_other_methods(torch, tmp_path):
    """An sgd_mlp run exports weights only (loads into bias=False layers); a method whose
    state is not Linear weights and biases is refused (exit 2, one line)."""
    from tests.test_cli import invoke, output
    small = ("--width", "4", "--layers", "2", "--batch-size", "2", "--data", "synthetic:16", "--steps", "1",
             "--no-zk", "-q")
    assert invoke("train", "--out", tmp_path / "a", *small).exit_code == 0
    res = invoke("export-model", tmp_path / "a", "--format", "torch", "-o", tmp_path / "a.pt")
    assert res.exit_code == 0, output(res)
    sd = torch.load(tmp_path / "a.pt")
    assert list(sd) == ["0.weight", "2.weight"]
    nn = torch.nn
    (h, f), (c, _) = sd["0.weight"].shape, sd["2.weight"].shape
    nn.Sequential(nn.Linear(f, h, bias=False), nn.ReLU(), nn.Linear(h, c, bias=False)).load_state_dict(sd)
    assert invoke("train", "--out", tmp_path / "m", "--method", "subset_momentum", *small).exit_code == 0
    res = invoke("export-model", tmp_path / "m", "--format", "torch")
    assert res.exit_code == 2 and "no torch export" in output(res) and "Traceback" not in output(res), output(res)
    assert not (tmp_path / "m" / "model.pt").exists()
