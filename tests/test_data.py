"""Datasets (synthetic, npz, csv, digits), quantization, and the public batch schedule."""

import hashlib
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from zkdl import schedule
from zkdl.data import Dataset, digits, from_arrays, load_csv, load_npz, quantize, synthetic
from zkdl.errors import DataError


# ----------------------------------------------------------------------------- datasets
def test_synthetic_is_deterministic_and_seeded():
    a, b = synthetic(), synthetic()
    assert a.digest() == b.digest()
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert synthetic(seed=1).digest() != a.digest()
    assert a.X.dtype == np.int64 and a.y.dtype == np.int64
    assert a.X.shape == (2048, 16) and a.n_classes == 4 and a.frac_bits == 16
    assert sorted(np.bincount(a.y).tolist()) == [512] * 4


def test_features_standardized_then_quantized():
    d = synthetic(n_samples=512, n_features=6, n_classes=3)
    xf = d.X_float()
    assert np.allclose(xf.mean(axis=0), 0, atol=1e-4)
    assert np.allclose(xf.std(axis=0), 1, atol=1e-4)


def test_quantize_round_half_up():
    x = np.array([0.5, -0.5, 1.5, -1.5, 0.25, -0.75]) / 2 ** 4
    assert quantize(x, 4).tolist() == [1, 0, 2, -1, 0, -1]  # floor(v + 1/2)


def test_digest_covers_content_not_name():
    d = synthetic(n_samples=64, n_features=4, n_classes=2)
    e = Dataset("other", d.X.copy(), d.y.copy(), d.n_classes, d.frac_bits)
    assert e.digest() == d.digest()
    X2 = d.X.copy()
    X2[3, 1] += 1
    assert Dataset("x", X2, d.y, d.n_classes, d.frac_bits).digest() != d.digest()
    assert Dataset("x", d.X, d.y, d.n_classes, 12).digest() != d.digest()


def test_raw_round_trip(tmp_path):
    d = synthetic(n_samples=64, n_features=4, n_classes=3)
    p = tmp_path / "raw.npz"
    with open(p, "wb") as f:
        d.save_raw(f)
    e = Dataset.load_raw(p)
    assert e.digest() == d.digest() and e.name == d.name and e.classes == d.classes


def test_load_npz_good(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)) * 5 + 2
    y = np.repeat([3, 7], 20)
    p = tmp_path / "good.npz"
    np.savez(p, X=X, y=y)
    d = load_npz(p)
    assert d.n_samples == 40 and d.n_features == 3 and d.n_classes == 2
    assert d.classes == ("3", "7") and set(d.y.tolist()) == {0, 1}
    assert np.array_equal(d.X, from_arrays(X, y).X)
    assert d.name == "good.npz"


@pytest.mark.parametrize("arrays,fragment", [
    (dict(X=np.zeros((4, 2))), "missing array"),
    (dict(features=np.zeros((4, 2)), y=np.arange(4)), "missing array"),
    (dict(X=np.array([["a", "b"], ["c", "d"]]), y=np.array([0, 1])), "numeric"),
    (dict(X=np.array([[1.0, np.nan], [2.0, 3.0]]), y=np.array([0, 1])), "NaN"),
    (dict(X=np.array([[1.0, np.inf], [2.0, 3.0]]), y=np.array([0, 1])), "NaN or infinity"),
    (dict(X=np.zeros((4, 2)), y=np.array([0, 1, 0])), "mismatched lengths"),
    (dict(X=np.zeros((0, 2)), y=np.zeros(0)), "empty"),
    (dict(X=np.zeros((4, 2)), y=np.zeros(4)), "at least 2 classes"),
    (dict(X=np.zeros(4), y=np.arange(4)), "2-D"),
    (dict(X=np.zeros((4, 2)), y=np.zeros((4, 1))), "1-D"),
    (dict(X=np.zeros((4, 2)), y=np.array([0, 0.5, 1, 1])), "integers"),
])
def test_load_npz_bad(tmp_path, arrays, fragment):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    with pytest.raises(DataError, match=fragment) as e:
        load_npz(p)
    assert str(p) in str(e.value)


def test_load_npz_missing_and_corrupt(tmp_path):
    p = tmp_path / "nope.npz"
    with pytest.raises(DataError, match="file not found") as e:
        load_npz(p)
    assert str(p) in str(e.value)
    q = tmp_path / "corrupt.npz"
    q.write_bytes(b"this is not a zip file")
    with pytest.raises(DataError, match="not a readable .npz") as e:
        load_npz(q)
    assert str(q) in str(e.value)
    with pytest.raises(DataError, match="not a regular file"):
        load_npz(tmp_path)


def test_load_csv_good(tmp_path):
    p = tmp_path / "d.csv"
    lines = ["f1,label,f2"] + [f"{i * 0.5},{'cat' if i % 3 else 'dog'},{-i}" for i in range(12)]
    p.write_text("\n".join(lines) + "\n")
    d = load_csv(p)
    assert d.n_features == 2 and d.n_samples == 12 and d.classes == ("cat", "dog")
    assert d.y.tolist() == [1 if i % 3 == 0 else 0 for i in range(12)]
    p2 = tmp_path / "e.csv"
    p2.write_text("a,b,cls\n1,2,0\n3,4,1\n5,6,2\n")
    assert load_csv(p2, label_column="cls").n_classes == 3


@pytest.mark.parametrize("text,fragment", [
    ("", "empty"),
    ("a,b,label\n", "no data rows"),
    ("a,b,y\n1,2,0\n3,4,1\n", "no label column"),
    ("a,b,label\n1,x,0\n3,4,1\n", "non-numeric"),
    ("a,b,label\n1,2,0\n3,4\n", "fields"),
    ("a,b,label\n1,2,0\n3,4,0\n", "at least 2 classes"),
    ("a,b,label\n1,nan,0\n3,4,1\n", "NaN"),
    ("label\n0\n1\n", "no feature columns"),
])
def test_load_csv_bad(tmp_path, text, fragment):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(DataError, match=fragment) as e:
        load_csv(p)
    assert str(p) in str(e.value)


def test_load_csv_missing(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_csv(tmp_path / "missing.csv")


def test_digits():
    pytest.importorskip("sklearn", reason="scikit-learn not installed (optional extra zkdl[digits])")
    d = digits()
    assert d.X.shape == (1797, 64) and d.n_classes == 10 and d.X.dtype == np.int64
    assert d.digest() == digits().digest()


# ----------------------------------------------------------------------------- schedule
def _ref_permutation(seed, n, epoch):
    """Second, independent implementation of the documented schedule spec."""
    prefix = b"zkdl/schedule/v1" + seed.to_bytes(32, "big") + struct.pack(">QQ", n, epoch)
    words, counter = [], 0

    def draw():
        nonlocal counter
        if not words:
            words.extend(reversed(struct.unpack(">4Q", hashlib.sha256(prefix + struct.pack(">Q", counter)).digest())))
            counter += 1
        return words.pop()

    arr = np.arange(n)
    for i in range(n - 1, 0, -1):
        m = i + 1
        while True:
            w = draw()
            if w < 2 ** 64 - 2 ** 64 % m:
                break
        j = w % m
        arr[i], arr[j] = arr[j], arr[i]
    return arr.tolist()


@pytest.mark.parametrize("seed,n,b", [(0, 10, 3), (12345, 97, 8), (2 ** 63 + 5, 33, 33), (7, 1, 1)])
def test_schedule_matches_second_implementation(seed, n, b):
    per = n // b
    for epoch in range(3):
        perm = _ref_permutation(seed, n, epoch)
        for j in range(per):
            t = epoch * per + j
            assert schedule.batch_indices(seed, n, b, t) == perm[j * b:(j + 1) * b]


def test_schedule_properties():
    n, b = 50, 7
    per = schedule.batches_per_epoch(n, b)
    assert per == 7
    for epoch in range(2):
        rows = [i for t in range(epoch * per, (epoch + 1) * per) for i in schedule.batch_indices(3, n, b, t)]
        assert len(rows) == len(set(rows)) == per * b and all(0 <= i < n for i in rows)
    assert schedule.batch_indices(3, n, b, 0) != schedule.batch_indices(3, n, b, per)
    assert schedule.batch_indices(3, n, b, 0) != schedule.batch_indices(4, n, b, 0)
    assert schedule.batch_indices(3, n, b, 5) == schedule.batch_indices(3, n, b, 5)
    with pytest.raises(ValueError):
        schedule.batch_indices(0, 5, 6, 0)
    with pytest.raises(ValueError):
        schedule.batch_indices(-1, 5, 2, 0)
    with pytest.raises(ValueError):
        schedule.batch_indices(0, 5, 2, -1)


def test_schedule_is_pure_python():
    code = "import sys, zkdl.schedule as s; s.batch_indices(1, 20, 4, 3); " \
           "bad = [m for m in ('numpy', 'numba') if m in sys.modules]; assert not bad, bad"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert r.returncode == 0, r.stderr


def test_digits_without_sklearn_is_a_data_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(DataError, match="scikit-learn is not installed"):
        digits()
