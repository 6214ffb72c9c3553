"""Quantized training tracer: exact relations, kernels, bounds, storage, resume, float reference."""

import json
import os
import re

import numpy as np
import pytest

import zkdl
from zkdl import quant, tracer
from zkdl.config import TrainConfig
from zkdl.data import synthetic
from zkdl.errors import ConfigError, OverflowBoundError
from zkdl.reference import accuracy_float, train_float
from zkdl.schedule import batch_indices

RNG_SEED = 20240607


# ----------------------------------------------------------------------------- helpers
def P(a):
    """int64 array -> object array of Python ints (exact arithmetic)."""
    assert a.dtype == np.int64
    return a.astype(object)


def rhu(x, s):
    """round half up of x / 2^s on Python ints."""
    return (x + (1 << (s - 1))) >> s


def in_bits(a, bits):
    return a.size == 0 or (int(a.min()) >= -(1 << (bits - 1)) and int(a.max()) < (1 << (bits - 1)))


def check_step(st, cfg, data):
    """Every relation of DESIGN.md section 4 on one recorded step, in Python integers."""
    L, R, Q, ub = cfg.layers, cfg.R, cfg.Q, cfg.update_bits
    a, k = cfg.lr_num, cfg.lr_shift
    T = st.tensors
    for name in tracer.tensor_names(L):
        assert name in T, name
        assert T[name].dtype == np.int64, name
    batch = batch_indices(cfg.batch_seed, data.n_samples, cfg.batch_size, st.t)
    assert T["batch"].tolist() == batch
    assert np.array_equal(T["labels"], data.y[batch])
    assert np.array_equal(T["A_0"], data.X[batch])
    Y = np.zeros((cfg.batch_size, cfg.n_classes), dtype=np.int64)
    Y[np.arange(cfg.batch_size), data.y[batch]] = 1 << R
    assert np.array_equal(T["Y"], Y)
    half = 1 << (R - 1)
    for l in range(1, L + 1):
        Z = P(T[f"A_{l-1}"]).dot(P(T[f"W_{l}"]))
        Zp = P(T[f"Zp_{l}"])
        assert (Zp == rhu(Z, R)).all(), f"Zp_{l}"
        rem = P(T[f"remZ_{l}"])
        assert (Z - (Zp << R) == rem).all(), f"remZ_{l}"
        assert in_bits(T[f"remZ_{l}"], R) and in_bits(T[f"Zp_{l}"], Q)
        assert int(T[f"remZ_{l}"].min()) >= -half and int(T[f"remZ_{l}"].max()) < half
        if l < L:
            S = T[f"S_{l}"]
            assert set(np.unique(S).tolist()) <= {0, 1}
            assert np.array_equal(S, (T[f"Zp_{l}"] < 0).astype(np.int64)), f"S_{l}"
            assert np.array_equal(T[f"A_{l}"], (1 - S) * T[f"Zp_{l}"]), f"A_{l}"
            # zkReLU range form: Z' + 2^(Q-1) S in [0, 2^(Q-1))
            v = P(T[f"Zp_{l}"]) + (P(S) << (Q - 1))
            assert (v >= 0).all() and (v < (1 << (Q - 1))).all()
    assert np.array_equal(T[f"G_Z_{L}"], T[f"Zp_{L}"] - T["Y"])
    for l in range(L - 1, 0, -1):
        GA = P(T[f"G_Z_{l+1}"]).dot(P(T[f"W_{l+1}"]).T)
        GAp = P(T[f"G_Ap_{l}"])
        assert (GAp == rhu(GA, R)).all(), f"G_Ap_{l}"
        assert (GA - (GAp << R) == P(T[f"remGA_{l}"])).all(), f"remGA_{l}"
        assert in_bits(T[f"remGA_{l}"], R) and in_bits(T[f"G_Ap_{l}"], Q)
        assert np.array_equal(T[f"G_Z_{l}"], (1 - T[f"S_{l}"]) * T[f"G_Ap_{l}"]), f"G_Z_{l}"
    s = R + k
    for l in range(1, L + 1):
        GW = P(T[f"A_{l-1}"]).T.dot(P(T[f"G_Z_{l}"]))
        dW = P(T[f"dW_{l}"])
        assert (dW == rhu(a * GW, s)).all(), f"dW_{l}"
        remW = P(T[f"remW_{l}"])
        assert (a * GW - (dW << s) == remW).all(), f"remW_{l}"
        assert in_bits(T[f"remW_{l}"], s) and in_bits(T[f"dW_{l}"], ub)
        assert np.array_equal(T[f"W_next_{l}"], T[f"W_{l}"] - T[f"dW_{l}"])
        assert in_bits(T[f"W_{l}"], Q) and in_bits(T[f"G_Z_{l}"], Q)
    out = T[f"G_Z_{L}"].astype(np.float64) / 2 ** R
    assert st.loss == pytest.approx(0.5 * float(np.sum(out * out)) / cfg.batch_size, rel=1e-12)
    acc = np.mean(np.argmax(T[f"Zp_{L}"], axis=1) == T["labels"])
    assert st.accuracy == acc


SMALL = dict(width=16, batch_size=8, lr_num=3, lr_shift=9)


@pytest.fixture(scope="module")
def small_data():
    return synthetic(n_samples=256, n_features=10, n_classes=3, seed=4)


@pytest.fixture(scope="module")
def small_run(small_data):
    return zkdl.train(TrainConfig(**SMALL), small_data, steps=6, keep_in_memory=True)


def assert_steps_equal(s1, s2):
    assert s1.t == s2.t and s1.loss == s2.loss and s1.accuracy == s2.accuracy
    assert sorted(s1.tensors) == sorted(s2.tensors)
    for k in s1.tensors:
        assert s1.tensors[k].dtype == s2.tensors[k].dtype, k
        assert np.array_equal(s1.tensors[k], s2.tensors[k]), k


# ----------------------------------------------------------------------------- exact matmul
def _py_matmul(a, b):
    return [[sum(int(a[i, k]) * int(b[k, j]) for k in range(a.shape[1])) for j in range(b.shape[1])]
            for i in range(a.shape[0])]


@pytest.mark.parametrize("bits_a,bits_b", [(8, 8), (20, 30), (31, 31), (40, 20), (52, 3)])
def test_exact_matmul_paths_match_python_ints(bits_a, bits_b):
    rng = np.random.default_rng(RNG_SEED + bits_a)
    a = rng.integers(-(1 << bits_a), 1 << bits_a, size=(5, 7), dtype=np.int64)
    b = rng.integers(-(1 << bits_b), 1 << bits_b, size=(7, 4), dtype=np.int64)
    want = _py_matmul(a, b)
    bound = quant.matmul_bound(a, b)
    for method in ("auto", "float", "int64", "split"):
        if method == "float" and bound >= 2 ** 53 or method == "int64" and bound >= 2 ** 63:
            with pytest.raises(ValueError):
                quant.exact_matmul(a, b, method)
            continue
        try:
            got = quant.exact_matmul(a, b, method)
        except OverflowError:
            assert any(abs(v) >= 2 ** 63 for row in want for v in row)
            continue
        assert got.dtype == np.int64 and got.tolist() == want, method


def test_exact_matmul_beyond_float_precision():
    a = np.full((2, 4), 2 ** 30 + 1, dtype=np.int64)
    b = np.full((4, 3), 2 ** 25 + 3, dtype=np.int64)
    want = _py_matmul(a, b)
    assert quant.matmul_bound(a, b) >= 2 ** 53
    floaty = (a.astype(float) @ b.astype(float)).astype(np.int64).tolist()
    assert floaty != want  # float64 BLAS would be wrong here ...
    assert quant.exact_matmul(a, b).tolist() == want  # ... the helper is not


def test_exact_matmul_split_path_and_overflow():
    a = np.array([[2 ** 40 + 5, -(2 ** 40)]], dtype=np.int64)
    b = np.array([[2 ** 22 + 1], [2 ** 22 + 1]], dtype=np.int64)
    assert quant.matmul_bound(a, b) >= 2 ** 63  # partial sums overflow int64 ...
    assert quant.exact_matmul(a, b).tolist() == [[5 * (2 ** 22 + 1)]]  # ... result does not
    big = np.array([[2 ** 40, 2 ** 40]], dtype=np.int64)
    with pytest.raises(OverflowError):
        quant.exact_matmul(big, b)


def test_matmul_bound_is_sound():
    rng = np.random.default_rng(RNG_SEED)
    for trial in range(30):
        bits = int(rng.integers(1, 40))
        a = rng.integers(-(1 << bits), 1 << bits, size=(4, 9), dtype=np.int64)
        b = rng.integers(-(1 << 20), 1 << 20, size=(9, 3), dtype=np.int64)
        worst = 0
        for i in range(4):
            for j in range(3):
                acc = 0
                for kk in range(9):
                    acc += int(a[i, kk]) * int(b[kk, j])
                    worst = max(worst, abs(acc), abs(int(a[i, kk]) * int(b[kk, j])))
        assert worst <= quant.matmul_bound(a, b)


# ----------------------------------------------------------------------------- kernels
def _boundary_values(s, n, rng):
    q = rng.integers(-1000, 1000, size=n)
    off = rng.choice([-(1 << (s - 1)), (1 << (s - 1)) - 1, 0, 1, -1, (1 << (s - 1))], size=n)
    return (q * (1 << s) + off).astype(np.int64)


def test_round_shift_and_kernels_match_python_ints():
    rng = np.random.default_rng(RNG_SEED)
    s = 7
    v = _boundary_values(s, 60, rng).reshape(6, 10)
    q, r = quant.round_shift(v, s)
    assert q.tolist() == [[rhu(int(x), s) for x in row] for row in v]
    assert (r == v - (q << s)).all() and r.min() >= -(1 << (s - 1)) and r.max() < (1 << (s - 1))
    for Z in (v, v.astype(np.float64)):
        Zp, rem, S, A = (np.empty(v.shape, np.int64) for _ in range(4))
        Af = np.empty(v.shape)
        bad = quant.rescale_relu(Z, s, -50, 50, Zp, rem, S, A, Af)
        assert np.array_equal(Zp, q) and np.array_equal(rem, r)
        assert np.array_equal(S, (q < 0).astype(np.int64)) and np.array_equal(A, np.maximum(q, 0))
        assert np.array_equal(Af, A.astype(float))
        assert bad == int(((q < -50) | (q > 50)).sum())
    Smask = rng.integers(0, 2, size=v.shape).astype(np.int64)
    GAp, rem, GZ = (np.empty(v.shape, np.int64) for _ in range(3))
    GZf = np.empty(v.shape)
    quant.rescale_mask(v, s, Smask, -(1 << 40), 1 << 40, GAp, rem, GZ, GZf)
    assert np.array_equal(GAp, q) and np.array_equal(GZ, (1 - Smask) * q)
    labels = rng.integers(0, 10, size=6).astype(np.int64)
    Zp, rem, GZ = (np.empty(v.shape, np.int64) for _ in range(3))
    bz, bg = quant.rescale_output(v, s, labels, 128, -(1 << 40), 1 << 40, Zp, rem, GZ, np.empty(v.shape))
    Y = np.zeros(v.shape, np.int64)
    Y[np.arange(6), labels] = 128
    assert (bz, bg) == (0, 0) and np.array_equal(GZ, q - Y)


def test_sgd_update_kernel():
    rng = np.random.default_rng(RNG_SEED)
    W = rng.integers(-(1 << 20), 1 << 20, size=(5, 6)).astype(np.int64)
    GW = rng.integers(-(1 << 35), 1 << 35, size=(5, 6)).astype(np.int64)
    a, s = 3, 25
    out = [np.empty((5, 6), np.int64) for _ in range(3)]
    stats = np.empty((5, 4), np.int64)
    quant.sgd_update(W, GW.astype(np.float64), a, s, (1 << 62) // a, -(1 << 15), (1 << 15) - 1,
                     -(1 << 31), (1 << 31) - 1, *out, np.empty((5, 6)), stats)
    dW, remW, Wn = out
    want = [[rhu(a * int(g), s) for g in row] for row in GW]
    assert dW.tolist() == want
    assert (P(remW) == a * P(GW) - (P(dW) << s)).all()
    assert np.array_equal(Wn, W - dW)
    assert stats[:, :3].sum() == 0 and stats[:, 3].max() == np.abs(Wn).max()
    GW[2, 3] = (1 << 62) // a + 1  # a * G_W would overflow int64: reported, not wrapped
    quant.sgd_update(W, GW, a, s, (1 << 62) // a, -(1 << 15), (1 << 15) - 1,
                     -(1 << 31), (1 << 31) - 1, *out, np.empty((5, 6)), stats)
    assert stats[2, 0] == 1 and stats[:, 0].sum() == 1


# ----------------------------------------------------------------------------- relations
def test_relations_hold_exactly(small_run, small_data):
    cfg = small_run.config
    assert cfg.layers == 8 and cfg.dims() == (10,) + (16,) * 7 + (3,)
    assert small_run.n_steps == 6
    for t in range(small_run.n_steps):
        check_step(small_run.step(t), cfg, small_data)
    for t in range(small_run.n_steps - 1):
        a, b = small_run.step(t), small_run.step(t + 1)
        for l in range(1, cfg.layers + 1):
            assert np.array_equal(a["W_next", l], b["W", l])
    for l in range(cfg.layers):
        assert np.array_equal(small_run.step(0)["W", l + 1], small_run.initial_weights[l])
        assert np.array_equal(small_run.step(5)["W_next", l + 1], small_run.final_weights[l])
    # the weights actually move
    assert any(np.any(small_run.step(0)["dW", l] != 0) for l in range(1, 9))


@pytest.mark.parametrize("name", ["remZ_3", "Zp_8", "S_2", "G_Ap_4", "G_Z_5", "dW_1", "remW_7", "A_6"])
def test_checker_rejects_tampered_trace(small_run, small_data, name):
    st = small_run.step(2)
    bad = tracer.StepTrace(st.t, {k: v.copy() for k, v in st.tensors.items()}, st.loss, st.accuracy)
    bad.tensors[name][0, 0] += 1
    with pytest.raises(AssertionError):
        check_step(bad, small_run.config, small_data)


def test_int64_fallback_path_gives_identical_trace(small_run, small_data, monkeypatch):
    monkeypatch.setattr(quant, "FLOAT_EXACT", 1)  # no float64 BLAS anywhere: exact int64 matmuls
    run = zkdl.train(TrainConfig(**SMALL), small_data, steps=3, keep_in_memory=True)
    for t in range(3):
        assert_steps_equal(run.step(t), small_run.step(t))


def test_init_weights_deterministic():
    cfg = TrainConfig(width=(12, 7), R=10).for_data(synthetic(n_samples=32, n_features=5, n_classes=3, R=10))
    W1, W2 = tracer.init_weights(cfg), tracer.init_weights(cfg)
    assert [w.shape for w in W1] == [(5, 12), (12, 7), (7, 3)]
    assert all(np.array_equal(a, b) and a.dtype == np.int64 for a, b in zip(W1, W2))
    W3 = tracer.init_weights(cfg.replace(init_seed=1))
    assert not np.array_equal(W1[0], W3[0])
    M = int(np.sqrt(6 / 5) * 2 ** 10)
    assert np.abs(W1[0]).max() <= M and np.abs(W1[0]).max() > M // 2
    assert W1[0].std() == pytest.approx(M / np.sqrt(3), rel=0.25)


# ----------------------------------------------------------------------------- bounds
def test_large_learning_rate_overflows_update_bits(small_data):
    cfg = TrainConfig(**{**SMALL, "lr_num": 255, "lr_shift": 0})
    with pytest.raises(OverflowBoundError) as e:
        zkdl.train(cfg, small_data, steps=3)
    msg = str(e.value)
    assert re.search(r"step 0, layer \d+: tensor dW_\d+ leaves its 16-bit signed bound", msg), msg
    assert "learning rate" in msg and "value" in msg


def test_small_Q_overflows_values(small_data):
    cfg = TrainConfig(**{**SMALL, "Q": 20, "update_bits": 20, "lr_num": 1, "lr_shift": 2})
    with pytest.raises(OverflowBoundError) as e:
        zkdl.train(cfg, small_data, steps=50)
    msg = str(e.value)
    assert re.search(r"step \d+, layer \d+: tensor (Zp|G_Z|G_Ap|W_next)_\d+ leaves its 20-bit", msg), msg
    assert "smaller R" in msg and "larger Q" in msg


def test_input_outside_Q_bound(small_data):
    cfg = TrainConfig(**{**SMALL, "Q": 18})  # features up to ~4 > 2^(18-1-16) = 2
    with pytest.raises(OverflowBoundError, match=r"step 0, layer 0: tensor A_0"):
        zkdl.train(cfg, small_data, steps=1)


# ----------------------------------------------------------------------------- storage
def test_save_load_round_trip(small_run, tmp_path):
    d = small_run.save(tmp_path / "run")
    man = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert man["n_steps"] == 6 and man["config_digest"] == small_run.config.digest()
    assert man["tensor_names"] == tracer.tensor_names(8)
    assert not [f for f in os.listdir(tmp_path / "run") if f.startswith(".tmp")]
    loaded = zkdl.Run.load(d)
    assert loaded.config == small_run.config and loaded.data.digest() == small_run.data.digest()
    assert loaded.losses == small_run.losses and loaded.accuracies == small_run.accuracies
    assert loaded._mem == {}  # lazy: steps are read from disk on demand
    for t in range(6):
        assert_steps_equal(loaded.step(t), small_run.step(t))
    for a, b in zip(loaded.final_weights, small_run.final_weights):
        assert np.array_equal(a, b)
    # saving the loaded run elsewhere gives identical files' contents
    d2 = loaded.save(tmp_path / "copy")
    again = zkdl.Run.load(d2)
    assert_steps_equal(again.step(4), small_run.step(4))


def test_spill_and_replay_modes(small_run, small_data, tmp_path):
    cfg = TrainConfig(**SMALL)
    spilled = zkdl.train(cfg, small_data, steps=6, out_dir=tmp_path / "spill")
    assert spilled._mem == {} and len(os.listdir(tmp_path / "spill" / "steps")) == 6
    replayed = zkdl.train(cfg, small_data, steps=6)  # neither memory nor disk: replay on demand
    assert replayed._mem == {} and replayed.out_dir is None
    for t in (0, 3, 5):
        assert_steps_equal(spilled.step(t), small_run.step(t))
        assert_steps_equal(replayed.step(t), small_run.step(t))
    win = replayed.window(2, 3)
    assert [s.t for s in win] == [2, 3, 4]
    for s in win:
        assert_steps_equal(s, small_run.step(s.t))
    assert_steps_equal(zkdl.Run.load(tmp_path / "spill").step(1), small_run.step(1))
    replayed.save(tmp_path / "replayed")
    assert_steps_equal(zkdl.Run.load(tmp_path / "replayed").step(5), small_run.step(5))
    with pytest.raises(IndexError):
        replayed.window(4, 3)
    with pytest.raises(ConfigError, match="already holds a run"):
        zkdl.train(cfg, small_data, steps=1, out_dir=tmp_path / "spill")


def test_resume_is_bit_identical(small_run, small_data, tmp_path):
    cfg = TrainConfig(**SMALL)
    part = zkdl.train(cfg, small_data, steps=4, keep_in_memory=True).resume(2)
    assert part.n_steps == 6 and part.losses == small_run.losses
    for t in range(6):
        assert_steps_equal(part.step(t), small_run.step(t))
    zkdl.train(cfg, small_data, steps=3, out_dir=tmp_path / "r")
    loaded = zkdl.Run.load(tmp_path / "r")
    zkdl.train(cfg, small_data, steps=3, resume=loaded)
    assert loaded.n_steps == 6
    for t in (2, 3, 5):
        assert_steps_equal(loaded.step(t), small_run.step(t))
    reloaded = zkdl.Run.load(tmp_path / "r")
    assert reloaded.n_steps == 6 and reloaded.losses == small_run.losses
    assert all(np.array_equal(a, b) for a, b in zip(reloaded.final_weights, small_run.final_weights))
    with pytest.raises(ConfigError, match="config differs"):
        zkdl.train(cfg.replace(lr_num=1), small_data, steps=1, resume=loaded)


# ----------------------------------------------------------------------------- learning
def test_default_run_learns_and_follows_float_reference():
    cfg = TrainConfig()
    data = synthetic()
    run = zkdl.train(cfg, data)  # embedded default: synthetic data, 8 layers, 200 steps
    ref = train_float(cfg, data)
    q = np.array(run.losses)
    f = np.array(ref.losses)
    rel = np.abs(q - f) / f
    assert rel[:30].max() < 0.01, rel[:30]
    assert rel.max() < 0.25
    acc_q, acc_f = run.accuracy(), accuracy_float(ref.weights, data)
    assert acc_q > 0.9 and acc_f > 0.9 and abs(acc_q - acc_f) < 0.05
    assert q[-20:].mean() < 0.3 * q[:5].mean()


def test_digits_quantized_matches_float():
    pytest.importorskip("sklearn", reason="scikit-learn not installed (optional extra zkdl[digits])")
    from zkdl.data import digits
    data = digits()
    cfg = TrainConfig(width=32, batch_size=32, lr_num=1, lr_shift=8)
    steps = 5 * (data.n_samples // cfg.batch_size)
    run = zkdl.train(cfg, data, steps=steps)
    ref = train_float(cfg, data, steps=steps)
    rel = np.abs(np.array(run.losses[:20]) - np.array(ref.losses[:20])) / np.array(ref.losses[:20])
    assert rel.max() < 0.01
    acc_q, acc_f = run.accuracy(), accuracy_float(ref.weights, data)
    assert acc_q > 0.85 and acc_f > 0.85 and abs(acc_q - acc_f) < 0.05


def test_overflow_keeps_completed_steps_on_disk(small_data, tmp_path):
    cfg = TrainConfig(**{**SMALL, "Q": 20, "update_bits": 20, "lr_num": 1, "lr_shift": 2})
    with pytest.raises(OverflowBoundError) as e:
        zkdl.train(cfg, small_data, steps=50, out_dir=tmp_path / "o")
    failed_at = int(re.search(r"step (\d+)", str(e.value)).group(1))
    run = zkdl.Run.load(tmp_path / "o")
    assert run.n_steps == failed_at
    if failed_at:
        check_step(run.step(failed_at - 1), run.config, small_data)


def test_progress_callback(small_data):
    seen = []
    run = zkdl.train(TrainConfig(**SMALL), small_data, steps=3, progress=lambda t, l, a: seen.append((t, l, a)))
    assert seen == [(t, run.losses[t], run.accuracies[t]) for t in range(3)]


# ----------------------------------------------------------------------------- properties
from hypothesis import given, settings, strategies as hst  # noqa: E402


@settings(max_examples=60, deadline=None, derandomize=True)
@given(hst.integers(1, 4), hst.integers(1, 5), hst.integers(1, 4), hst.integers(0, 62), hst.integers(0, 62),
       hst.integers(0, 2 ** 32 - 1))
def test_exact_matmul_property(n, k, m, bits_a, bits_b, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-(1 << bits_a), 1 << bits_a, size=(n, k), dtype=np.int64, endpoint=False)
    b = rng.integers(-(1 << bits_b), 1 << bits_b, size=(k, m), dtype=np.int64, endpoint=False)
    want = _py_matmul(a, b)
    if any(not -(2 ** 63) <= v < 2 ** 63 for row in want for v in row):
        with pytest.raises(OverflowError):
            quant.exact_matmul(a, b)
    else:
        assert quant.exact_matmul(a, b).tolist() == want


@settings(max_examples=100, deadline=None, derandomize=True)
@given(hst.lists(hst.integers(-(2 ** 62), 2 ** 62), min_size=1, max_size=20), hst.integers(1, 40))
def test_round_shift_property(xs, s):
    q, r = quant.round_shift(np.array(xs, dtype=np.int64), s)
    assert q.tolist() == [rhu(x, s) for x in xs]
    assert r.tolist() == [x - (rhu(x, s) << s) for x in xs]


# ----------------------------------------------------------------------------- slow
def check_step_int64(st, cfg):
    """The matmul relations with int64 numpy (exact: bounds far below 2^63), for wider nets."""
    L, R, T = cfg.layers, cfg.R, st.tensors
    s = R + cfg.lr_shift
    for l in range(1, L + 1):
        Z = T[f"A_{l-1}"] @ T[f"W_{l}"]
        assert np.array_equal(Z, (T[f"Zp_{l}"] << R) + T[f"remZ_{l}"])
        GW = T[f"A_{l-1}"].T @ T[f"G_Z_{l}"]
        assert np.array_equal(cfg.lr_num * GW, (T[f"dW_{l}"] << s) + T[f"remW_{l}"])
        if l < L:
            GA = T[f"G_Z_{l+1}"] @ T[f"W_{l+1}"].T
            assert np.array_equal(GA, (T[f"G_Ap_{l}"] << R) + T[f"remGA_{l}"])
            assert np.array_equal(T[f"G_Z_{l}"], (1 - T[f"S_{l}"]) * T[f"G_Ap_{l}"])
        for name, bits in ((f"remZ_{l}", R), (f"remW_{l}", s), (f"dW_{l}", cfg.update_bits)):
            assert in_bits(T[name], bits), name


@pytest.mark.slow
def test_wide_run_relations_and_learning():
    data = synthetic(n_samples=4096, n_features=32, n_classes=8, seed=2)
    cfg = TrainConfig(width=128, batch_size=64, lr_num=1, lr_shift=11)
    run = zkdl.train(cfg, data, steps=5 * (4096 // 64))
    for st in run.window(0, 2) + run.window(run.n_steps - 2, 2):
        check_step_int64(st, run.config)
    ref = train_float(cfg, data, steps=run.n_steps)
    assert abs(run.accuracy() - accuracy_float(ref.weights, data)) < 0.05
    assert run.accuracy() > 0.8
