"""Prediction and evaluation with a trained model (not proven).

    model = zkdl.evaluate.Model.load("zkdl-run/model.npz")   # a `zkdl export-model` file
    labels = zkdl.predict(model, X_float)                    # class ids, X scaled like the training data
    report = zkdl.evaluate.evaluate(model, "test.npz")       # accuracy, loss, confusion matrix

A :class:`Model` is the quantized weights (index l-1 holds W_l, int64 at scale 2^R), R,
the training config when known, and the training data's :class:`~zkdl.data.Scaling`
when known. A model file (`zkdl export-model`, docs/FORMAT.md section 6) holds the
weights and the config; the scaling is read from the ``summary.json`` ("scaling") of
the run directory: ``run_dir`` when given, else the directory holding the model file
(where `zkdl export-model` writes it by default), and only when that summary's config
digest is the model's. Prediction is the tracer's quantized forward pass
(:func:`zkdl.tracer.predict`, round half up, ReLU); the class is the first maximum of
the L-th layer's outputs Z'_L (ties: the lowest class id).
"""

from __future__ import annotations

import json
import os

import numpy as np

from zkdl.errors import DataError, ZkdlError

__all__ = ["Model", "predict", "evaluate", "confusion_matrix", "EvaluationError"]


class EvaluationError(ZkdlError):
    """A model or input that cannot be evaluated (the message says why)."""


def _check_weights(weights, src: str) -> list:
    if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)) or not weights:
        raise EvaluationError(f"{src}: weights must be a non-empty list of 2-D integer arrays (W_1..W_L)")
    out = []
    for l, w in enumerate(weights, 1):
        a = np.asarray(w)
        if a.ndim != 2 or a.dtype.kind not in "iu" or 0 in a.shape:
            raise EvaluationError(f"{src}: W_{l} must be a non-empty 2-D integer array, got "
                                  f"{a.dtype} of shape {a.shape}")
        if out and out[-1].shape[1] != a.shape[0]:
            raise EvaluationError(f"{src}: W_{l - 1} has {out[-1].shape[1]} outputs but W_{l} has "
                                  f"{a.shape[0]} inputs")
        out.append(a.astype(np.int64))
    if out[-1].shape[1] < 2:
        raise EvaluationError(f"{src}: the last layer has {out[-1].shape[1]} output(s); a classifier needs 2 or more")
    return out


class Model:
    """Quantized weights with their fixed point R and, when known, the training config
    (``config``, a TrainConfig) and the training data's scaling (``scaling``)."""

    def __init__(self, weights, R: int = 16, *, config=None, scaling=None, source: str = "model",
                 scaling_source: str | None = None, biases=None):
        if type(R) is not int or not 0 <= R <= 62:
            raise EvaluationError(f"{source}: R must be an int in [0, 62], got {R!r}")
        self.weights = _check_weights(weights, source)
        self.biases = biases      # per-layer bias rows (a method with biases, e.g. sgd_bias), or None
        self.R = R
        self.config = config
        self.scaling = scaling
        self.source = source
        self.scaling_source = scaling_source
        if scaling is not None:
            if scaling.R != R:
                raise EvaluationError(f"{source}: the scaling has R={scaling.R}, the model R={R}")
            if scaling.n_features != self.n_features or len(scaling.classes) != self.n_classes:
                raise EvaluationError(f"{source}: the scaling is for {scaling.n_features} features and "
                                      f"{len(scaling.classes)} classes, the model has {self.n_features} inputs "
                                      f"and {self.n_classes} outputs")

    @property
    def n_features(self) -> int:
        return int(self.weights[0].shape[0])

    @property
    def n_classes(self) -> int:
        return int(self.weights[-1].shape[1])

    @property
    def classes(self) -> tuple | None:
        """The original labels of class ids 0..C-1 (from the scaling), or None."""
        return None if self.scaling is None else self.scaling.classes

    def __repr__(self) -> str:
        dims = [self.n_features] + [int(w.shape[1]) for w in self.weights]
        return f"Model({self.source!r}, dims={dims}, R={self.R}, scaling={'yes' if self.scaling else 'no'})"

    @classmethod
    def load(cls, path, run_dir=None) -> "Model":
        """A `zkdl export-model` file, with the training scaling of ``run_dir`` (a `zkdl
        train` output directory) or, by default, of the directory holding the file when
        its summary.json belongs to the same config. EvaluationError if the file is
        missing or no model file, its weights do not fit its config, or ``run_dir`` holds
        no scaling or another config's."""
        from zkdl.anchors import AnchorError, load_model
        from zkdl.config import TrainConfig
        p = os.fspath(path)
        if not os.path.exists(p):
            raise EvaluationError(f"{p}: file not found")
        if not os.path.isfile(p):
            raise EvaluationError(f"{p}: not a regular file")
        try:
            meta, ws, _, _ = load_model(p)
        except AnchorError as exc:
            raise EvaluationError(str(exc)) from None
        try:
            config = TrainConfig.from_dict(meta.get("config"))
            dims = config.dims()
        except (ZkdlError, TypeError, ValueError, KeyError, AttributeError) as exc:
            raise EvaluationError(f"{p}: meta.config is not a valid training config ({exc})") from None
        want = [(dims[l - 1], dims[l]) for l in range(1, len(dims))]
        if [tuple(w.shape) for w in ws] != want:
            raise EvaluationError(f"{p}: weights of shapes {[tuple(w.shape) for w in ws]} do not fit the file's "
                                  f"config (layers {want})")
        R = meta.get("R", config.R)
        if R != config.R:
            raise EvaluationError(f"{p}: meta.R {R!r} differs from the config's R {config.R}")
        biases = _file_biases(p, meta, config)
        scaling, ssrc = _find_scaling(p, config, run_dir)
        return cls(ws, config.R, config=config, scaling=scaling, source=p, scaling_source=ssrc, biases=biases)


def _file_biases(path: str, meta: dict, config):
    """The bias rows of a model file of a method with biases (e.g. sgd_bias): its opened
    state (``meta.opened``, by the method's ``state_of``) through the method's
    ``effective_biases`` hook; None for a bias-free or unknown method."""
    from zkdl.circuits.builder import method_class
    from zkdl.tracer import effective_biases
    method = meta.get("method")
    if not isinstance(method, str):
        return None
    try:
        cls = method_class(method)
    except ZkdlError:
        return None              # a method this process does not know: its W{l} are all it has
    if getattr(cls, "effective_biases", None) is None:
        return None
    state: dict = {}
    for _, base, layer, arr, _ in meta.get("arrays") or []:
        name = getattr(cls, "state_of", {}).get(base)
        if name is not None:
            state.setdefault(name, {})[layer] = arr
    try:
        lists = {k: [v[l] for l in range(1, config.layers + 1)] for k, v in state.items()}
        b = effective_biases(config, lists, method, meta.get("method_params"))
        dims = config.dims()
        if len(b) != config.layers or any(np.shape(x) != (1, dims[l + 1]) for l, x in enumerate(b)):
            raise ValueError("shapes")
    except (ZkdlError, KeyError, TypeError, ValueError, IndexError):
        raise EvaluationError(f"{path}: a model of method {method!r}, whose biases the file does not hold "
                              f"(an export-model file of its run has them)") from None
    return [np.asarray(x, dtype=np.int64) for x in b]


def _find_scaling(model_path: str, config, run_dir):
    """(Scaling or None, where it came from) for a model of ``config``."""
    from zkdl.data import Scaling
    explicit = run_dir is not None
    d = os.fspath(run_dir) if explicit else (os.path.dirname(os.path.abspath(model_path)) or ".")
    spath = os.path.join(d, "summary.json")
    if explicit and not os.path.isdir(d):
        raise EvaluationError(f"--run {d}: not a directory")
    try:
        with open(spath, encoding="utf-8") as fh:
            summary = json.load(fh)
    except FileNotFoundError:
        if explicit:
            raise EvaluationError(f"--run {d}: no summary.json (not a `zkdl train` output directory)") from None
        return None, None
    except (OSError, ValueError) as exc:
        if explicit:
            raise EvaluationError(f"{spath}: unreadable ({exc})") from None
        return None, None
    if not isinstance(summary, dict):
        if explicit:
            raise EvaluationError(f"{spath}: not a JSON object")
        return None, None
    if summary.get("config_digest") != config.digest():
        raise EvaluationError(f"{model_path}: the model's config differs from the run in {d} (config digest "
                              f"{str(summary.get('config_digest'))[:16]}..., the model's {config.digest()[:16]}...): "
                              f"a model file from another run; pass --run with its own run directory")
    rec = summary.get("scaling")
    if rec is None:
        if explicit:
            raise EvaluationError(f"{spath}: records no training scaling (a run made before zkdl recorded it)")
        return None, None
    try:
        return Scaling.from_dict(rec, f"{spath} scaling"), spath
    except DataError as exc:
        raise EvaluationError(str(exc)) from None


def as_model(model, R: int | None = None) -> Model:
    """A Model from a Model, a path to a model file, a zkdl.Run (its final weights and
    data scaling) or a list of integer weight arrays (fixed point ``R``, default 16)."""
    if isinstance(model, Model):
        return model
    if isinstance(model, (str, os.PathLike)):
        return Model.load(model)
    from zkdl.tracer import Run
    if isinstance(model, Run):
        return Model(model.final_weights, model.config.R, config=model.config,
                     scaling=getattr(model.data, "scaling", None), source="run", biases=model.biases(model.n_steps))
    if isinstance(model, (list, tuple)):
        return Model(list(model), 16 if R is None else R, source="weights")
    raise EvaluationError(f"model must be a Model, a model file path, a zkdl.Run or a list of weight arrays, "
                          f"got {type(model).__name__}")


def quantized_features(model: Model, X, scaling=None) -> np.ndarray:
    """int64 X on the model's grid: an integer array as it is, float features encoded
    with ``scaling`` (default: the model's)."""
    a = np.asarray(X)
    if a.dtype.kind not in "iuf" or a.dtype.kind == "b":
        raise EvaluationError(f"X must be a numeric array (float features or int64 quantized ones), got {a.dtype}")
    if a.ndim == 1:
        a = a.reshape(1, -1)
    if a.ndim != 2 or a.shape[0] == 0:
        raise EvaluationError(f"X must be 2-D (samples x features) with at least one row, got shape {np.shape(X)}")
    if a.shape[1] != model.n_features:
        raise EvaluationError(f"X has {a.shape[1]} features, the model takes {model.n_features}")
    if a.dtype.kind in "iu":
        if a.dtype.kind == "u" and a.size and int(a.max()) >= 1 << 63:
            raise EvaluationError("X holds values outside int64")
        return a.astype(np.int64)
    scaling = scaling if scaling is not None else model.scaling
    if scaling is None:
        raise EvaluationError("float features need the training scaling, and the model has none: pass scaling= "
                              "(a zkdl.data.Scaling, e.g. the training Dataset's .scaling) or X already quantized "
                              "as int64 (round(x * 2^R))")
    if scaling.R != model.R:
        raise EvaluationError(f"the scaling has R={scaling.R}, the model R={model.R}")
    try:
        return scaling.encode_features(a, "X")
    except DataError as exc:
        raise EvaluationError(str(exc)) from None


def scores(model, X, *, R: int | None = None, scaling=None) -> np.ndarray:
    """The raw outputs Z'_L (int64, fixed point 2^R) of every row of X."""
    from zkdl.tracer import predict as forward
    m = as_model(model, R)
    return forward(m.weights, quantized_features(m, X, scaling), m.R, m.biases)


def predict(model, X, *, R: int | None = None, scaling=None, labels: bool = False) -> np.ndarray:
    """Class predictions of ``model`` for the rows of ``X``.

    ``model``: a path to a `zkdl export-model` file (its training scaling from the run
    directory holding it, see :class:`Model`), a :class:`Model`, a ``zkdl.Run`` (final
    weights), or a list of integer weight arrays W_1..W_L (fixed point ``R``, default
    16). ``X``: (N, d) or one row (d,); a float array is encoded with the model's
    training scaling (or ``scaling=``; an error if there is none), an integer array is
    taken as already quantized (value * 2^R, the tracer's ``Dataset.X``). Returns int64
    class ids (N,) in [0, C): the first maximum of Z'_L. ``labels=True`` returns the
    original training labels instead (``model.classes[id]``, needs the scaling).
    Raises :class:`EvaluationError` (a ZkdlError) for a bad model or X."""
    m = as_model(model, R)
    ids = np.argmax(scores(m, X, scaling=scaling), axis=1).astype(np.int64)
    if not labels:
        return ids
    classes = (scaling or m.scaling).classes if (scaling or m.scaling) is not None else None
    if classes is None:
        raise EvaluationError("labels=True needs the training classes (the model has no scaling)")
    return np.array(classes, dtype=object)[ids]


def _is_stored_dataset(spec) -> bool:
    """Whether ``spec`` names a quantized dataset file zkdl wrote (Dataset.save_raw: X, y
    and a JSON meta with frac_bits), such as a run's run/eval.npz."""
    p = os.fspath(spec)
    if not p.lower().endswith(".npz") or not os.path.isfile(p):
        return False
    try:
        with np.load(p, allow_pickle=False) as z:
            if set(z.files) != {"X", "y", "meta"} or z["meta"].dtype != np.uint8:
                return False
            meta = json.loads(z["meta"].tobytes())
    except Exception:  # noqa: BLE001 - not ours: the data loader reports what is wrong with it
        return False
    return isinstance(meta, dict) and "frac_bits" in meta and "n_classes" in meta


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """C x C int64 counts: row = true class id, column = predicted class id."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return cm


def encoded_dataset(data, scaling, R: int, n_features: int, n_classes: int, label_column: str = "label"):
    """(Dataset, how it was encoded) of ``data`` for a model of R, n_features and n_classes:
    a Dataset as it is ("given"); a set zkdl stored (run/eval.npz) as stored; a data spec
    encoded with the training ``scaling`` ("training"), or without one by its own
    statistics ("own statistics"). EvaluationError where the rows do not fit the model."""
    from zkdl.data import Dataset, load_spec
    if isinstance(data, Dataset):
        ds, how = data, "given"
    elif _is_stored_dataset(data):   # zkdl's own quantized rows (run/eval.npz, run/data.npz): used as stored
        ds = Dataset.load_raw(data)
        if scaling is not None and ds.scaling is not None and ds.scaling != scaling:
            raise EvaluationError(f"{data}: stored rows encoded with another scaling than the model's training data")
        how = "stored (already encoded)"
    else:
        ds = load_spec(data, label_column, R=R, scaling=scaling)
        how = "training" if scaling is not None else "own statistics"
    if ds.n_features != n_features:
        raise EvaluationError(f"{ds.name}: {ds.n_features} features, the model takes {n_features}")
    if ds.n_classes > n_classes:
        raise EvaluationError(f"{ds.name}: {ds.n_classes} classes, the model has {n_classes} outputs")
    if ds.frac_bits != R:
        raise EvaluationError(f"{ds.name}: fixed point R={ds.frac_bits}, the model's R={R}")
    if ds.n_classes < n_classes:   # an own-statistics label map with fewer classes: still ids < C
        ds = Dataset(ds.name, ds.X, ds.y, n_classes, ds.frac_bits, ds.classes, ds.scaling)
    return ds, how


def evaluate(model, data, label_column: str = "label", *, run_dir=None) -> dict:
    """Accuracy, loss and confusion matrix of ``model`` on ``data`` (a data spec as for
    `--data`, or a Dataset already encoded): a spec is encoded with the model's training
    scaling; without one, with its own statistics at the model's R (reported in
    ``"scaling"``: ``"training"`` or ``"own statistics"``)."""
    from zkdl.tracer import loss_accuracy
    m = Model.load(model, run_dir) if isinstance(model, (str, os.PathLike)) else as_model(model)
    ds, how = encoded_dataset(data, m.scaling, m.R, m.n_features, m.n_classes, label_column)
    pred = np.argmax(scores(m, ds.X), axis=1)
    loss, acc = loss_accuracy(m.weights, ds, m.biases)
    cm = confusion_matrix(ds.y, pred, m.n_classes)
    classes = list(m.classes) if m.classes is not None else (list(ds.classes) if len(ds.classes) == m.n_classes
                                                            else [str(i) for i in range(m.n_classes)])
    return {"model": m.source, "data": ds.name, "n_samples": int(ds.n_samples), "correct": int(np.trace(cm)),
            "accuracy": acc, "loss": loss, "classes": classes, "confusion": cm.tolist(),
            "scaling": how, "scaling_source": m.scaling_source}
