"""Datasets for the tracer: quantized features, integer labels, a content digest.

A :class:`Dataset` holds int64 features ``X`` (N x d) on the fixed-point grid with
``frac_bits`` fractional bits (value = X / 2^frac_bits), int64 labels ``y`` in
``[0, n_classes)``, a name and the original class labels. Every loader standardizes each
feature column (zero mean, unit variance; a constant column becomes all zeros) and then
quantizes with round half up: ``X = floor(x * 2^R + 1/2)``.

Scaling (:class:`Scaling`): the map a loader applied, returned as ``Dataset.scaling``:
the per-feature ``mean`` and ``std`` (float64, of the training rows), the fixed point
``R`` and the training ``classes`` (the sorted distinct raw labels; label id i is
``classes[i]``). Every loader accepts ``scaling=`` to encode another set (an eval or
test set) with those training statistics and that label map instead of its own: features
``x -> (x - mean) / std`` (a column whose training std is 0 becomes 0), quantized with
``R``; a label that is not among the training classes is a DataError. Without
``scaling=`` a loader computes its own (so a training set is encoded exactly as before:
same bytes, same digest). ``Scaling.to_dict`` / ``from_dict`` give its JSON form
(``zkdl-scaling/v1``, docs/FORMAT.md section 4.3).

Held-out split (:func:`eval_split_indices`, :func:`load_spec_split`): rows are ordered
by SHAKE-256 words of ``(seed, n, n_eval)``; the first ``n_eval = ceil(fraction * n)``
of that order are the eval rows, the others the training rows, both kept in file order.
The training rows are standardized by their own statistics, the eval rows by those.

``digest()`` is the SHA-256 of the canonical bytes: the tag ``b"zkdl/dataset/v1"``, the
canonical JSON ``{"frac_bits","n_classes","n_features","n_samples"}``, then X and y as
little-endian int64, row-major. The name is not part of it.

Sources: :func:`synthetic` (built-in, deterministic, no file), :func:`load_npz`
(arrays ``X`` and ``y``), :func:`load_csv` (header row, label in a named column),
:func:`digits` (scikit-learn's bundled 8x8 digits, optional extra ``zkdl[digits]``),
:func:`from_arrays` (in-memory arrays). Problems raise :class:`~zkdl.errors.DataError`
naming the file (or source) and the problem.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
from dataclasses import dataclass, field

import numpy as np

from zkdl.errors import DataError

__all__ = ["Dataset", "Scaling", "synthetic", "load_npz", "load_csv", "digits", "from_arrays",
           "quantize", "shake_words", "load_spec", "load_spec_split", "eval_split_indices"]

SCALING_FORMAT = "zkdl-scaling/v1"


@dataclass(frozen=True)
class Scaling:
    """How raw features and labels became a Dataset's integers (see the module doc)."""

    mean: tuple      # float per feature (of the training rows)
    std: tuple       # float per feature (population std, ddof 0); 0: a constant column
    R: int           # fractional bits of the fixed point
    classes: tuple   # str per class id: the training set's sorted distinct raw labels

    @property
    def n_features(self) -> int:
        return len(self.mean)

    def to_dict(self) -> dict:
        return {"format": SCALING_FORMAT, "R": int(self.R), "n_features": self.n_features,
                "mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std],
                "classes": [str(c) for c in self.classes]}

    @classmethod
    def from_dict(cls, d, src: str = "scaling") -> "Scaling":
        """The Scaling of :meth:`to_dict`'s JSON (DataError naming ``src`` if malformed)."""
        if not isinstance(d, dict) or d.get("format") != SCALING_FORMAT:
            found = d.get("format") if isinstance(d, dict) else type(d).__name__
            raise DataError(f"{src}: not a zkdl scaling record (format {found!r}, expected {SCALING_FORMAT!r})")
        mean, std, classes, R = d.get("mean"), d.get("std"), d.get("classes"), d.get("R")
        num = (int, float)
        if type(R) is not int or not 0 <= R <= 62:
            raise DataError(f"{src}: scaling R must be an int in [0, 62]")
        if not (isinstance(mean, list) and isinstance(std, list) and len(mean) == len(std) >= 1
                and all(isinstance(v, num) and not isinstance(v, bool) and math.isfinite(v) for v in mean + std)
                and all(v >= 0 for v in std)):
            raise DataError(f"{src}: scaling mean and std must be equal-length lists of finite numbers (std >= 0)")
        if not (isinstance(classes, list) and len(classes) >= 2 and all(isinstance(c, str) for c in classes)
                and len(set(classes)) == len(classes)):
            raise DataError(f"{src}: scaling classes must be a list of at least 2 distinct strings")
        return cls(tuple(float(v) for v in mean), tuple(float(v) for v in std), R, tuple(classes))

    def encode_features(self, X, src: str = "data") -> np.ndarray:
        """Float features (N, d) -> int64 on the grid 2^-R, with this scaling."""
        Xf = _float_features(X, src)
        if Xf.shape[1] != self.n_features:
            raise DataError(f"{src}: {Xf.shape[1]} features, the training data had {self.n_features}")
        return quantize(_standardize(Xf, np.array(self.mean, dtype=np.float64),
                                     np.array(self.std, dtype=np.float64)), self.R)

    def encode_labels(self, y, src: str = "data") -> np.ndarray:
        """Raw labels -> class ids of the training classes (DataError for an unknown label)."""
        vals = _label_values(np.asarray(y), src)
        index = {c: i for i, c in enumerate(self.classes)}
        out = np.empty(len(vals), dtype=np.int64)
        for i, v in enumerate(vals.tolist()):
            k = index.get(str(v))
            if k is None:
                raise DataError(f"{src}: label {str(v)[:40]!r} (row {i}) is not a class of the training data "
                                f"(classes {', '.join(self.classes[:12])}{' ...' if len(self.classes) > 12 else ''})")
            out[i] = k
        return out


@dataclass(frozen=True, eq=False)
class Dataset:
    name: str
    X: np.ndarray  # int64 (N, d), frac_bits fractional bits
    y: np.ndarray  # int64 (N,), in [0, n_classes)
    n_classes: int
    frac_bits: int
    classes: tuple[str, ...] = field(default=())
    scaling: Scaling | None = field(default=None)  # how the rows were encoded (not part of the digest)

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    def X_float(self) -> np.ndarray:
        """Dequantized features (X / 2^frac_bits) as float64 (exact)."""
        return self.X.astype(np.float64) / float(1 << self.frac_bits)

    def canonical_bytes(self) -> bytes:
        head = json.dumps({"frac_bits": self.frac_bits, "n_classes": self.n_classes,
                           "n_features": self.n_features, "n_samples": self.n_samples},
                          sort_keys=True, separators=(",", ":")).encode()
        return (b"zkdl/dataset/v1" + len(head).to_bytes(4, "big") + head
                + np.ascontiguousarray(self.X, dtype="<i8").tobytes()
                + np.ascontiguousarray(self.y, dtype="<i8").tobytes())

    def digest(self) -> str:
        return hashlib.sha256(self.canonical_bytes()).hexdigest()

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, n_samples={self.n_samples}, n_features={self.n_features}, "
                f"n_classes={self.n_classes}, frac_bits={self.frac_bits})")

    # raw (already quantized) storage, used by Run.save / Run.load
    def save_raw(self, f) -> None:
        m = {"name": self.name, "n_classes": self.n_classes, "frac_bits": self.frac_bits,
             "classes": list(self.classes)}
        if self.scaling is not None:
            m["scaling"] = self.scaling.to_dict()
        meta = json.dumps(m, sort_keys=True)
        np.savez(f, X=self.X, y=self.y, meta=np.frombuffer(meta.encode(), dtype=np.uint8))

    @classmethod
    def load_raw(cls, path: str | os.PathLike) -> "Dataset":
        try:
            with np.load(path, allow_pickle=False) as z:
                X, y = z["X"].astype(np.int64), z["y"].astype(np.int64)
                meta = json.loads(bytes(z["meta"]).decode())
        except (OSError, KeyError, ValueError) as e:
            raise DataError(f"{path}: cannot read stored quantized dataset ({e})") from None
        scaling = Scaling.from_dict(meta["scaling"], str(path)) if "scaling" in meta else None
        ds = cls(meta["name"], X, y, int(meta["n_classes"]), int(meta["frac_bits"]), tuple(meta["classes"]), scaling)
        _check_quantized(ds, str(path))
        return ds


def _check_quantized(ds: Dataset, src: str) -> None:
    if ds.X.dtype != np.int64 or ds.X.ndim != 2 or ds.y.dtype != np.int64 or ds.y.ndim != 1:
        raise DataError(f"{src}: X must be int64 (N, d) and y int64 (N,)")
    if ds.X.shape[0] != ds.y.shape[0]:
        raise DataError(f"{src}: X has {ds.X.shape[0]} rows but y has {ds.y.shape[0]}")
    if ds.y.size and (ds.y.min() < 0 or ds.y.max() >= ds.n_classes):
        raise DataError(f"{src}: labels outside [0, {ds.n_classes})")


# --------------------------------------------------------------------------- helpers
def quantize(x: np.ndarray, R: int) -> np.ndarray:
    """Round half up to the grid 2^-R: floor(x * 2^R + 1/2) as int64."""
    q = np.floor(np.asarray(x, dtype=np.float64) * float(1 << R) + 0.5)
    if q.size and np.max(np.abs(q)) >= 2.0 ** 62:
        raise DataError("feature values too large to quantize into int64")
    return q.astype(np.int64)


def shake_words(tag: bytes, n: int) -> np.ndarray:
    """n unsigned 64-bit words (little-endian) of SHAKE-256(tag): platform independent.
    ``n`` must lie in [0, 2^32] (a 2^16 x 2^16 weight matrix, the config's MAX_DIM): a
    DataError otherwise, never an OverflowError."""
    if isinstance(n, np.integer):
        n = int(n)
    if not isinstance(n, int) or isinstance(n, bool):
        raise DataError(f"shake_words: n must be an int, got {type(n).__name__}")
    if not 0 <= n <= (1 << 32):
        raise DataError(f"shake_words: n must be in [0, 2^32], got {str(n)[:40]}")
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    return np.frombuffer(hashlib.shake_256(tag).digest(8 * n), dtype="<u8").astype(np.uint64)


def _unit_uniform(words: np.ndarray) -> np.ndarray:
    """Words -> floats in (0, 1] on a 2^-53 grid."""
    return ((words >> np.uint64(11)).astype(np.float64) + 1.0) * (2.0 ** -53)


def _label_values(y_raw: np.ndarray, src: str) -> np.ndarray:
    """Raw labels as int64 (integral numbers) or str values."""
    if y_raw.ndim != 1:
        raise DataError(f"{src}: y must be 1-D (one label per sample), got shape {y_raw.shape}")
    if y_raw.dtype.kind in "iub":
        return y_raw.astype(np.int64)
    if y_raw.dtype.kind == "f":
        if not np.all(np.isfinite(y_raw)):
            raise DataError(f"{src}: labels contain NaN or infinity")
        if not np.all(y_raw == np.round(y_raw)):
            raise DataError(f"{src}: labels must be integers (class ids), found non-integer values")
        return y_raw.astype(np.int64)
    if y_raw.dtype.kind in "US":
        return y_raw.astype(str)
    raise DataError(f"{src}: labels have unsupported dtype {y_raw.dtype}")


def _labels(y_raw: np.ndarray, src: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Map raw labels to 0..C-1 (sorted order of distinct labels)."""
    vals = _label_values(y_raw, src)
    classes, y = np.unique(vals, return_inverse=True)
    if len(classes) < 2:
        raise DataError(f"{src}: needs at least 2 classes, found {len(classes)} ({classes.tolist()!r})")
    return y.astype(np.int64).reshape(-1), tuple(str(c) for c in classes.tolist())


def _float_features(X, src: str) -> np.ndarray:
    X = np.asarray(X)
    if X.dtype.kind not in "iubf":
        raise DataError(f"{src}: X must be numeric, got dtype {X.dtype}")
    if X.ndim != 2:
        raise DataError(f"{src}: X must be 2-D (samples x features), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"{src}: empty dataset (X has shape {X.shape})")
    Xf = X.astype(np.float64)
    if not np.all(np.isfinite(Xf)):
        bad = np.argwhere(~np.isfinite(Xf))[0]
        raise DataError(f"{src}: X contains NaN or infinity (first at row {bad[0]}, column {bad[1]})")
    return Xf


def _standardize(Xf: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    Xs = (Xf - mean) / np.where(std > 0, std, 1.0)
    Xs[:, std == 0] = 0.0
    return Xs


def from_arrays(X, y, *, name: str = "arrays", R: int | None = None, src: str | None = None,
                scaling: Scaling | None = None) -> Dataset:
    """Validate float features X (N, d) and labels y (N,), standardize, quantize.

    Without ``scaling``: standardize by X's own per-feature mean and std, label ids from
    y's sorted distinct labels, fixed point ``R`` (default 16); the result's ``.scaling``
    records that. With ``scaling`` (a training set's): encode with its mean, std, R and
    classes (``R``, if given, must equal ``scaling.R``)."""
    src = src or name
    X = np.asarray(X)
    y = np.asarray(y)
    if X.dtype.kind not in "iubf":
        raise DataError(f"{src}: X must be numeric, got dtype {X.dtype}")
    if X.ndim != 2:
        raise DataError(f"{src}: X must be 2-D (samples x features), got shape {X.shape}")
    if y.ndim != 1:
        raise DataError(f"{src}: y must be 1-D (one label per sample), got shape {y.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"{src}: empty dataset (X has shape {X.shape})")
    if X.shape[0] != y.shape[0]:
        raise DataError(f"{src}: mismatched lengths: X has {X.shape[0]} rows but y has {y.shape[0]} labels")
    Xf = _float_features(X, src)
    if scaling is not None:
        if R is not None and R != scaling.R:
            raise DataError(f"{src}: R={R} but the training scaling has R={scaling.R}")
        Xq = scaling.encode_features(Xf, src)
        yi = scaling.encode_labels(y, src)
        return Dataset(name, Xq, yi, len(scaling.classes), scaling.R, scaling.classes, scaling)
    R = 16 if R is None else R
    yi, classes = _labels(y, src)
    mean = Xf.mean(axis=0)
    std = Xf.std(axis=0)
    sc = Scaling(tuple(float(v) for v in mean), tuple(float(v) for v in std), R, classes)
    return Dataset(name, quantize(_standardize(Xf, mean, std), R), yi, len(classes), R, classes, sc)


# --------------------------------------------------------------------------- sources
def synthetic(n_samples: int = 2048, n_features: int = 16, n_classes: int = 4, *,
              clusters_per_class: int = 2, separation: float = 1.6, seed: int = 0,
              R: int | None = None, scaling: Scaling | None = None) -> Dataset:
    """Built-in deterministic classification task (no file, no download).

    Each class is a mixture of ``clusters_per_class`` Gaussian clusters (unit variance)
    whose centres are Gaussian with standard deviation ``separation``; sample ``i`` has
    class ``i % n_classes`` and cluster ``(i // n_classes) % clusters_per_class``. All
    randomness comes from SHAKE-256 words (Box-Muller), so the data are the same on every
    platform; the digest pins the quantized result.
    """
    X, y, name = _synthetic_arrays(n_samples, n_features, n_classes, clusters_per_class=clusters_per_class,
                                   separation=separation, seed=seed)
    return from_arrays(X, y, name=name, R=R, scaling=scaling)


def _synthetic_arrays(n_samples: int = 2048, n_features: int = 16, n_classes: int = 4, *,
                      clusters_per_class: int = 2, separation: float = 1.6, seed: int = 0):
    for nm, v in (("n_samples", n_samples), ("n_features", n_features), ("n_classes", n_classes),
                  ("clusters_per_class", clusters_per_class)):
        if not isinstance(v, int) or v < 1:
            raise DataError(f"synthetic: {nm} must be a positive int, got {v!r}")
    if n_classes < 2 or n_samples < n_classes:
        raise DataError(f"synthetic: need n_classes >= 2 and n_samples >= n_classes, got {n_classes}, {n_samples}")
    tag = b"zkdl/synthetic/v1|" + json.dumps([n_samples, n_features, n_classes, clusters_per_class,
                                               repr(float(separation)), seed]).encode()
    n_centres = n_classes * clusters_per_class
    n_gauss = n_centres * n_features + n_samples * n_features
    w = shake_words(tag, 2 * ((n_gauss + 1) // 2) * 1)
    u1 = _unit_uniform(w[0::2])
    u2 = _unit_uniform(w[1::2])
    r = np.sqrt(-2.0 * np.log(u1))
    g = np.concatenate([r * np.cos(2 * np.pi * u2), r * np.sin(2 * np.pi * u2)])[:n_gauss]
    centres = separation * g[:n_centres * n_features].reshape(n_centres, n_features)
    noise = g[n_centres * n_features:].reshape(n_samples, n_features)
    i = np.arange(n_samples)
    y = i % n_classes
    cl = (i // n_classes) % clusters_per_class
    X = centres[y * clusters_per_class + cl] + noise
    name = f"synthetic(n={n_samples},d={n_features},c={n_classes},seed={seed})"
    return X, y, name


def _need_file(path) -> str:
    p = os.fspath(path)
    if not os.path.exists(p):
        raise DataError(f"{p}: file not found")
    if not os.path.isfile(p):
        raise DataError(f"{p}: not a regular file")
    return p


def load_npz(path, *, R: int | None = None, name: str | None = None, scaling: Scaling | None = None) -> Dataset:
    """Load arrays ``X`` (N, d) numeric and ``y`` (N,) class labels from a .npz file
    (``scaling``: encode with a training set's scaling, see :func:`from_arrays`)."""
    X, y, p = _npz_arrays(path)
    return from_arrays(X, y, name=name or os.path.basename(p), R=R, src=p, scaling=scaling)


def _npz_arrays(path):
    p = _need_file(path)
    try:
        with open(p, "rb") as fh:
            magic = fh.read(4)
    except OSError as e:
        raise DataError(f"{p}: cannot read ({e.strerror or e})") from None
    if magic != b"PK\x03\x04":  # an .npz is a zip archive; np.load would try a .npy or a pickle
        raise DataError(f"{p}: not a .npz data file (not a readable .npz file: expected a zip archive of "
                        f"arrays 'X' and 'y')")
    try:
        with np.load(p, allow_pickle=False) as z:
            keys = set(z.files)
            missing = [k for k in ("X", "y") if k not in keys]
            if missing:
                raise DataError(f"{p}: missing array(s) {', '.join(missing)} "
                                f"(found: {', '.join(sorted(keys)) or 'none'}); expected arrays 'X' and 'y'")
            X, y = z["X"], z["y"]
    except DataError:
        raise
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"{p}: not a readable .npz file ({e})") from None
    except Exception as e:  # zipfile.BadZipFile and friends
        raise DataError(f"{p}: not a readable .npz file ({type(e).__name__}: {e})") from None
    return X, y, p


def load_csv(path, label_column: str = "label", *, R: int | None = None, name: str | None = None,
             scaling: Scaling | None = None) -> Dataset:
    """Load a CSV file with a header row; ``label_column`` holds labels, all other columns
    are numeric features (``scaling``: encode with a training set's scaling)."""
    X, y, p = _csv_arrays(path, label_column)
    return from_arrays(X, y, name=name or os.path.basename(p), R=R, src=p, scaling=scaling)


def _csv_arrays(path, label_column: str = "label"):
    p = _need_file(path)
    try:
        with open(p, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{p}: cannot read CSV ({e})") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{p}: empty file (expected a header row and data rows)")
    header = [h.strip() for h in rows[0]]
    if label_column not in header:
        raise DataError(f"{p}: no label column {label_column!r} in header {header!r}")
    li = header.index(label_column)
    if len(header) < 2:
        raise DataError(f"{p}: no feature columns besides {label_column!r}")
    data = rows[1:]
    if not data:
        raise DataError(f"{p}: no data rows after the header")
    feats = np.empty((len(data), len(header) - 1), dtype=np.float64)
    labels = []
    for r, row in enumerate(data):
        line = r + 2
        if len(row) != len(header):
            raise DataError(f"{p}: line {line} has {len(row)} fields, header has {len(header)}")
        k = 0
        for c, cell in enumerate(row):
            if c == li:
                labels.append(cell.strip())
                continue
            try:
                feats[r, k] = float(cell)
            except ValueError:
                raise DataError(f"{p}: line {line}, column {header[c]!r}: non-numeric value {cell!r}") from None
            k += 1
    try:
        y = np.array([int(s) for s in labels], dtype=np.int64)
    except ValueError:
        y = np.array(labels, dtype=str)
    return feats, y, p


def digits(*, R: int | None = None, scaling: Scaling | None = None) -> Dataset:
    """scikit-learn's bundled 8x8 handwritten digits (1797 x 64, 10 classes); no download.

    Needs the optional extra ``zkdl[digits]`` (scikit-learn)."""
    X, y = _digits_arrays()
    return from_arrays(X, y, name="digits", R=R, scaling=scaling)


def _digits_arrays():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("digits: scikit-learn is not installed (pip install 'zkdl[digits]')") from None
    d = load_digits()
    return d.data, d.target


_SPEC_HELP = "data specs: 'synthetic', 'digits' or a .npz/.csv path"


def _spec_source(spec: str, label_column: str):
    """(X, y, name, src) of a data spec, before any scaling."""
    if spec == "synthetic" or spec.startswith("synthetic:"):
        parts = spec.split(":")[1:]
        try:
            sizes = [int(p) for p in parts]
        except ValueError:
            raise DataError(f"{spec!r}: expected synthetic[:N[:FEATURES[:CLASSES]]] with integers") from None
        if len(sizes) > 3:
            raise DataError(f"{spec!r}: at most N, FEATURES and CLASSES")
        X, y, name = _synthetic_arrays(**dict(zip(("n_samples", "n_features", "n_classes"), sizes)))
        return X, y, name, name
    if spec == "digits":
        X, y = _digits_arrays()
        return X, y, "digits", "digits"
    lower = spec.lower()
    if lower.endswith(".npz"):
        X, y, p = _npz_arrays(spec)
        return X, y, os.path.basename(p), p
    if lower.endswith(".csv"):
        X, y, p = _csv_arrays(spec, label_column)
        return X, y, os.path.basename(p), p
    if not os.path.exists(spec):
        raise DataError(f"{spec}: file not found ({_SPEC_HELP})")
    raise DataError(f"{spec}: unknown data file type (expected a .npz or .csv file)")


def load_spec(spec: str, label_column: str = "label", *, R: int | None = None,
              scaling: Scaling | None = None) -> Dataset:
    """A dataset named as on the command line (``--data``): ``synthetic`` (or
    ``synthetic:N[:FEATURES[:CLASSES]]``), ``digits``, or a ``.npz`` / ``.csv`` path.
    ``scaling``: encode it with a training set's scaling (an eval or test set)."""
    X, y, name, src = _spec_source(spec, label_column)
    return from_arrays(X, y, name=name, R=R, src=src, scaling=scaling)


def eval_split_indices(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, eval rows) of a held-out split of ``n`` rows, both ascending.

    ``n_eval = ceil(fraction * n)`` with ``fraction`` taken as its shortest decimal
    (0.2 is exactly 1/5); the rows are ordered by the 64-bit words of
    ``SHAKE-256(b"zkdl/eval-split/v1|" + JSON [seed, n, n_eval])`` (a stable sort, row
    i has word i) and the first ``n_eval`` of that order are held out. Deterministic in
    (n, fraction, seed) on every platform."""
    from fractions import Fraction
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise DataError(f"eval split: the fraction must be a number strictly between 0 and 1, got {fraction!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise DataError(f"eval split: the seed must be a non-negative int, got {seed!r}")
    n_eval = math.ceil(Fraction(repr(float(fraction))) * n)
    if n_eval < 1 or n - n_eval < 2:
        raise DataError(f"eval split {fraction}: {n} rows leave {n - n_eval} for training and {n_eval} for "
                        f"evaluation; need at least 2 and 1")
    words = shake_words(b"zkdl/eval-split/v1|" + json.dumps([seed, n, n_eval]).encode(), n)
    order = np.argsort(words, kind="stable")
    return np.sort(order[n_eval:]).astype(np.int64), np.sort(order[:n_eval]).astype(np.int64)


def load_spec_split(spec: str, label_column: str = "label", *, R: int | None = None, fraction: float,
                    seed: int) -> tuple[Dataset, Dataset]:
    """(training set, eval set) of a data spec split by :func:`eval_split_indices`: the
    training rows standardized by their own statistics (so ``train.scaling`` is theirs),
    the eval rows encoded with ``train.scaling``."""
    X, y, name, src = _spec_source(spec, label_column)
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:   # the messages of from_arrays
        from_arrays(X, y, name=name, R=R, src=src)
    n = int(X.shape[0])
    tr, ev = eval_split_indices(n, fraction, seed)
    tag = f"{fraction:g} held out, seed {seed}"
    train = from_arrays(X[tr], y[tr], name=f"{name}[train: {len(tr)} of {n} rows, {tag}]", R=R,
                        src=f"{src} (training rows)")
    held = from_arrays(X[ev], y[ev], name=f"{name}[eval: {len(ev)} of {n} rows, {tag}]", src=f"{src} (eval rows)",
                       scaling=train.scaling)
    return train, held
