"""Held-out evaluation (zkdl train --eval-split / --eval-data / --epochs), the training
scaling of zkdl.data, `zkdl evaluate` and zkdl.predict (issue 18, parts 1 and 2)."""

from __future__ import annotations

import json
import math
import os
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

import zkdl
from zkdl import data as D
from zkdl.cli import cli
from zkdl.errors import DataError
from zkdl.evaluate import EvaluationError, Model

TINY = ["--width", "4", "--layers", "2", "--batch-size", "4"]


def invoke(*args):
    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        runner = CliRunner()
    return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)


def output(res) -> str:
    return res.stdout + res.stderr


def assert_usage_error(res, *needles):
    text = output(res)
    assert res.exit_code == 2, text
    assert "Traceback" not in text
    assert "error:" in res.stderr.lower()
    for n in needles:
        assert n in text, text


def no_partials(parent):
    return [n for n in os.listdir(parent) if ".partial-" in n or n.startswith(".tmp-")]


@pytest.fixture(scope="module")
def proven(tmp_path_factory):
    """A proven tiny run with a 25% held-out split and its exported model."""
    out = tmp_path_factory.mktemp("ev") / "run-out"
    res = invoke("train", "--out", out, "--steps", 2, *TINY, "--data", "synthetic:40:3:3", "--eval-split", "0.25")
    assert res.exit_code == 0, output(res)
    res = invoke("export-model", out)
    assert res.exit_code == 0, output(res)
    return out


# ----------------------------------------------------------------------------- scaling
def test_training_encoding_unchanged_and_scaling_recorded():
    d = D.synthetic(n_samples=60, n_features=5, n_classes=3)
    sc = d.scaling
    assert sc.R == 16 and sc.n_features == 5 and sc.classes == ("0", "1", "2")
    again = D.synthetic(n_samples=60, n_features=5, n_classes=3, scaling=sc)
    assert again.digest() == d.digest()
    assert D.Scaling.from_dict(json.loads(json.dumps(sc.to_dict()))) == sc


def test_eval_set_uses_training_statistics():
    rng = np.random.default_rng(3)
    Xtr, ytr = rng.normal(5.0, 2.0, size=(30, 3)), np.arange(30) % 2 + 7
    Xte, yte = rng.normal(9.0, 1.0, size=(10, 3)), np.array([8, 7] * 5)
    Xtr[:, 2] = 1.0   # a constant training column: 0 in every encoding
    tr = D.from_arrays(Xtr, ytr, name="tr")
    te = D.from_arrays(Xte, yte, name="te", scaling=tr.scaling)
    mean, std = Xtr.mean(axis=0), Xtr.std(axis=0)
    want = np.floor((Xte - mean) / np.where(std > 0, std, 1.0) * 2 ** 16 + 0.5).astype(np.int64)
    want[:, 2] = 0
    assert np.array_equal(te.X, want)
    assert te.y.tolist() == [1, 0] * 5 and te.classes == ("7", "8") and te.n_classes == 2
    own = D.from_arrays(Xte, yte, name="te")
    assert not np.array_equal(own.X, te.X)   # its own statistics would differ


def test_scaling_rejects_what_does_not_fit():
    tr = D.synthetic(n_samples=40, n_features=4, n_classes=2)
    with pytest.raises(DataError, match="3 features, the training data had 4"):
        D.from_arrays(np.zeros((5, 3)), np.zeros(5), scaling=tr.scaling)
    with pytest.raises(DataError, match="label '5' .* is not a class of the training data"):
        D.from_arrays(np.zeros((5, 4)), np.array([0, 1, 5, 0, 1]), scaling=tr.scaling)
    with pytest.raises(DataError, match="R=12 but the training scaling has R=16"):
        D.from_arrays(np.zeros((5, 4)), np.zeros(5), R=12, scaling=tr.scaling)
    for bad in ({}, {"format": "zkdl-scaling/v1", "R": 16, "mean": [0.0], "std": [-1.0], "classes": ["a", "b"]},
                {"format": "zkdl-scaling/v1", "R": 16, "mean": [0.0], "std": [1.0], "classes": ["a"]}, [1]):
        with pytest.raises(DataError):
            D.Scaling.from_dict(bad)


def test_raw_round_trip_keeps_scaling(tmp_path):
    d = D.synthetic(n_samples=40, n_features=4, n_classes=2)
    with open(tmp_path / "raw.npz", "wb") as f:
        d.save_raw(f)
    e = D.Dataset.load_raw(tmp_path / "raw.npz")
    assert e.digest() == d.digest() and e.scaling == d.scaling


# ----------------------------------------------------------------------------- split
def test_eval_split_is_seeded_and_partitions():
    tr, ev = D.eval_split_indices(101, 0.2, 7)
    assert len(ev) == math.ceil(0.2 * 101) == 21 and len(tr) == 80
    assert sorted(np.concatenate([tr, ev]).tolist()) == list(range(101))
    assert list(tr) == sorted(tr) and list(ev) == sorted(ev)
    tr2, ev2 = D.eval_split_indices(101, 0.2, 7)
    assert np.array_equal(ev, ev2) and np.array_equal(tr, tr2)
    assert not np.array_equal(ev, D.eval_split_indices(101, 0.2, 8)[1])
    assert len(D.eval_split_indices(10, 0.2, 0)[1]) == 2   # 0.2 is 1/5 exactly: ceil(2) = 2
    for bad in (0, 1, 1.5, -0.1, True):
        with pytest.raises(DataError, match="strictly between 0 and 1"):
            D.eval_split_indices(10, bad, 0)
    with pytest.raises(DataError, match="leave 1 for training"):
        D.eval_split_indices(10, 0.9, 0)


def test_load_spec_split_scales_eval_by_training_rows():
    train, held = D.load_spec_split("synthetic:50:4:2", fraction=0.2, seed=1)
    full = D.synthetic(n_samples=50, n_features=4, n_classes=2)
    tr, ev = D.eval_split_indices(50, 0.2, 1)
    X, y, _ = D._synthetic_arrays(50, 4, 2)
    assert train.digest() == D.from_arrays(X[tr], y[tr]).digest()
    assert held.digest() == D.from_arrays(X[ev], y[ev], scaling=train.scaling).digest()
    assert np.array_equal(train.y, full.y[tr]) and np.array_equal(held.y, full.y[ev])


# ----------------------------------------------------------------------------- train
def test_train_eval_split_epochs_summary(tmp_path):
    out = tmp_path / "o"
    res = invoke("train", "--out", out, "--no-prove", *TINY, "--data", "synthetic:42:3:3", "--eval-split", "0.2",
                 "--epochs", 2)
    assert res.exit_code == 0, output(res)
    s = json.loads((out / "summary.json").read_text())
    n_train = 42 - math.ceil(0.2 * 42)   # 33 rows: 8 batches of 4, one row sits each epoch out
    assert s["data"]["n_samples"] == n_train and s["config"]["steps"] == 2 * (n_train // 4) == 16
    assert s["epochs"] == {"batches_per_epoch": 8, "epochs": 2.0, "rows_left_out_per_epoch": 1}
    ev = s["evaluation"]
    assert ev["data"]["n_samples"] == 9 and ev["data"]["source"] == "split" and ev["data"]["seed"] == 0
    assert [h["step"] for h in ev["history"]] == [0, 8, 16] and [h["epoch"] for h in ev["history"]] == [0, 1, 2]
    run = zkdl.Run.load(out / "run")
    held = D.Dataset.load_raw(out / "run" / "eval.npz")
    assert held.digest() == ev["data"]["digest"] and held.scaling == run.data.scaling
    assert D.Scaling.from_dict(s["scaling"]) == run.data.scaling
    for h in ev["history"]:
        assert run.evaluate(held, h["step"]) == (h["loss"], h["accuracy"])
    assert "1 rows of each shuffle" in res.stderr and "eval accuracy" in res.stderr
    assert "held-out evaluation on 9 rows" in res.stdout


def test_train_eval_data_and_partial_last_epoch(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "test.npz", X=rng.normal(size=(7, 3)), y=np.array([0, 1, 2, 0, 1, 2, 0]))
    out = tmp_path / "o"
    res = invoke("train", "--out", out, "--no-prove", *TINY, "--data", "synthetic:24:3:3", "--steps", 9,
                 "--eval-data", tmp_path / "test.npz")
    assert res.exit_code == 0, output(res)
    ev = json.loads((out / "summary.json").read_text())["evaluation"]
    assert ev["data"]["source"] == "file" and ev["data"]["n_samples"] == 7
    assert [h["step"] for h in ev["history"]] == [0, 6, 9] and ev["final"]["epoch"] == 1.5


@pytest.mark.parametrize("args, needles", [
    (["--steps", 3, "--epochs", 1], ["either --steps or --epochs"]),
    (["--eval-split", 0.2, "--eval-data", "synthetic"], ["either --eval-split or --eval-data"]),
    (["--eval-data", "missing.npz"], ["missing.npz: file not found"]),
    (["--eval-data", "synthetic:20:5:3"], ["5 features, the training data had 3"]),
    (["--eval-data", "synthetic:20:3:4"], ["label '3'", "not a class of the training data"]),
    (["--eval-split", 1.5], ["--eval-split"]),
    (["--eval-split", 0.99], ["leave 0 for training"]),
    (["--epochs", 0], ["--epochs"]),
    (["--batch-size", 40, "--epochs", 1], ["exceeds the 24 samples"]),
    (["--method", "fedavg", "--epochs", 1], ["not available for --method fedavg"]),
])
def test_train_bad_eval_options(tmp_path, monkeypatch, args, needles):
    monkeypatch.chdir(tmp_path)
    res = invoke("train", "--out", "o", "--no-prove", *TINY, "--data", "synthetic:24:3:3", *args)
    assert_usage_error(res, *needles)
    assert not os.path.exists("o") and not no_partials(".")


def test_resume_keeps_eval_set(tmp_path):
    out = tmp_path / "o"
    res = invoke("train", "--out", out, "--no-prove", *TINY, "--data", "synthetic:24:3:3", "--eval-split", 0.25,
                 "--steps", 5)
    assert res.exit_code == 0, output(res)
    res = invoke("train", "--resume", "--out", out, "--eval-split", 0.25)
    assert_usage_error(res, "keeps its held-out set")
    res = invoke("train", "--resume", "--out", out, "--epochs", 3)
    assert_usage_error(res, "trained with steps 5")


# ----------------------------------------------------------------------------- evaluate
def test_evaluate_uses_training_scaling(proven):
    res = invoke("evaluate", proven / "model.npz", "synthetic:40:3:3", "--json")
    assert res.exit_code == 0, output(res)
    rep = json.loads(res.stdout)
    assert rep["scaling"] == "training" and rep["n_samples"] == 40 and "note:" not in res.stderr
    cm = np.array(rep["confusion"])
    assert cm.shape == (3, 3) and cm.sum() == 40 and np.trace(cm) == rep["correct"]
    full = D.synthetic(n_samples=40, n_features=3, n_classes=3)
    model = Model.load(proven / "model.npz")
    X, y, _ = D._synthetic_arrays(40, 3, 3)
    pred = zkdl.predict(proven / "model.npz", X)
    assert np.array_equal(pred, zkdl.predict(model, D.synthetic(40, 3, 3, scaling=model.scaling).X))
    assert rep["correct"] == int(np.sum(pred == full.y))
    assert abs(rep["accuracy"] - float(np.mean(pred == full.y))) < 1e-12
    # held-out rows from the summary: the same numbers as the train output recorded
    s = json.loads((proven / "summary.json").read_text())
    held = D.Dataset.load_raw(proven / "run" / "eval.npz")
    assert zkdl.evaluate.evaluate(model, held)["accuracy"] == s["evaluation"]["final"]["accuracy"]
    res = invoke("evaluate", proven / "model.npz", proven / "run" / "eval.npz", "--json")   # stored rows as they are
    assert res.exit_code == 0, output(res)
    assert json.loads(res.stdout)["accuracy"] == s["evaluation"]["final"]["accuracy"]
    other = D.synthetic(40, 3, 3, seed=9)
    with open(proven.parent / "other-eval.npz", "wb") as f:
        other.save_raw(f)
    assert_usage_error(invoke("evaluate", proven / "model.npz", proven.parent / "other-eval.npz"),
                       "encoded with another scaling")
    text = invoke("evaluate", proven / "model.npz", "synthetic:40:3:3")
    assert text.exit_code == 0 and "confusion matrix" in text.stdout and "accuracy" in text.stdout


def test_evaluate_without_scaling_notes_it(proven, tmp_path):
    shutil.copy(proven / "model.npz", tmp_path / "m.npz")
    res = invoke("evaluate", tmp_path / "m.npz", "synthetic:40:3:3", "--json")
    assert res.exit_code == 0, output(res)
    assert json.loads(res.stdout)["scaling"] == "own statistics" and "note: no training scaling" in res.stderr
    res = invoke("evaluate", tmp_path / "m.npz", "synthetic:40:3:3", "--run", proven, "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["scaling"] == "training"


def test_evaluate_bad_inputs(proven, tmp_path):
    model = proven / "model.npz"
    cases = [
        ((tmp_path / "none.npz", "synthetic:40:3:3"), "none.npz: file not found"),
        ((model, tmp_path / "none.npz"), "none.npz: file not found"),
        ((proven / "run" / "data.npz", "synthetic:40:3:3"), "not a zkdl model file"),
        ((proven / "summary.json", "synthetic:40:3:3"), "not a zkdl model file"),
        ((model, "synthetic:40:5:3"), "5 features, the training data had 3"),
        ((model, "synthetic:40:3:4"), "not a class of the training data"),
        ((model, "synthetic:40:3:3", "--run", tmp_path), "no summary.json"),
        ((model, "nodata.txt"), "file not found"),
    ]
    for args, needle in cases:
        assert_usage_error(invoke("evaluate", *args), needle)
    # a model of another config in a run directory: refused, not silently scaled
    other = tmp_path / "other"
    res = invoke("train", "--out", other, "--no-prove", *TINY, "--data", "synthetic:40:3:3", "--steps", 1,
                 "--seed", 5)
    assert res.exit_code == 0, output(res)
    shutil.copy(model, other / "model.npz")
    assert_usage_error(invoke("evaluate", other / "model.npz", "synthetic:40:3:3"), "another run")
    assert_usage_error(invoke("evaluate", model, "synthetic:40:3:3", "--run", other), "another run")
    # weights that do not fit the file's own config
    with np.load(model) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta"].tobytes())
    meta["config"]["width"] = [5]
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(tmp_path / "bad.npz", **arrays)
    assert_usage_error(invoke("evaluate", tmp_path / "bad.npz", "synthetic:40:3:3"), "do not fit the file's config")
    assert sorted(os.listdir(tmp_path)) == ["bad.npz", "other"]   # evaluate writes nothing


def test_predict_api(proven):
    model = Model.load(proven / "model.npz")
    Xq = D.synthetic(40, 3, 3, scaling=model.scaling).X
    ids = zkdl.predict(model, Xq)
    assert ids.dtype == np.int64 and ids.shape == (40,) and set(ids.tolist()) <= {0, 1, 2}
    assert np.array_equal(zkdl.predict(model.weights, Xq, R=model.R), ids)          # a list of weights
    assert np.array_equal(zkdl.predict(model, Xq[3]), ids[3:4])                     # one row
    assert zkdl.predict(model, Xq, labels=True).tolist() == [model.classes[i] for i in ids]
    run = zkdl.Run.load(proven / "run")
    assert np.array_equal(zkdl.predict(run, Xq), ids)
    with pytest.raises(EvaluationError, match="features, the model takes 3"):
        zkdl.predict(model, np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(EvaluationError, match="float features need the training scaling"):
        zkdl.predict(model.weights, np.zeros((2, 3)))
    with pytest.raises(EvaluationError, match="numeric array"):
        zkdl.predict(model, np.array([["a", "b", "c"]]))
    with pytest.raises(EvaluationError, match="2-D"):
        zkdl.predict(model, np.zeros((2, 3, 1)))
    with pytest.raises(EvaluationError, match="W_1 has 4 outputs but W_2 has 5 inputs"):
        zkdl.predict([np.zeros((3, 4), np.int64), np.zeros((5, 3), np.int64)], Xq)
    with pytest.raises(EvaluationError, match="model must be"):
        zkdl.predict(42, Xq)
    with pytest.raises(EvaluationError, match="file not found"):
        zkdl.predict("missing-model.npz", Xq)


def test_interrupted_run_resumes_its_evaluation(tmp_path, monkeypatch):
    import zkdl.cli as zcli

    class Interrupting(zcli.Progress):
        def __call__(self, msg):
            if msg.startswith("step 9 ("):
                raise KeyboardInterrupt
            super().__call__(msg)

    out = tmp_path / "o"
    monkeypatch.setattr(zcli, "Progress", Interrupting)
    res = invoke("train", "--out", out, "--no-prove", *TINY, "--data", "synthetic:30:3:3", "--eval-split", 0.2,
                 "--epochs", 3)
    assert res.exit_code == 130, output(res)
    s = json.loads((out / "summary.json").read_text())
    assert s["complete"] is False and s["n_steps"] == 10
    assert [h["step"] for h in s["evaluation"]["history"]] == [0, 6]
    monkeypatch.undo()
    res = invoke("train", "--resume", "--out", out)
    assert res.exit_code == 0, output(res)
    s = json.loads((out / "summary.json").read_text())
    assert s["n_steps"] == 18 and [h["step"] for h in s["evaluation"]["history"]] == [0, 6, 12, 18]
    run, held = zkdl.Run.load(out / "run"), D.Dataset.load_raw(out / "run" / "eval.npz")
    assert run.evaluate(held) == (s["evaluation"]["final"]["loss"], s["evaluation"]["final"]["accuracy"])
