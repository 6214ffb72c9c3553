"""Datasets for the tracer: quantized features, integer labels, a content digest.

A :class:`Dataset` holds int64 features ``X`` (N x d) on the fixed-point grid with
``frac_bits`` fractional bits (value = X / 2^frac_bits), int64 labels ``y`` in
``[0, n_classes)``, a name and the original class labels. Every loader standardizes each
feature column (zero mean, unit variance; a constant column becomes all zeros) and then
quantizes with round half up: ``X = floor(x * 2^R + 1/2)``.

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
import os
from dataclasses import dataclass, field

import numpy as np

from zkdl.errors import DataError

__all__ = ["Dataset", "synthetic", "load_npz", "load_csv", "digits", "from_arrays",
           "quantize", "shake_words"]


@dataclass(frozen=True, eq=False)
class Dataset:
    name: str
    X: np.ndarray  # int64 (N, d), frac_bits fractional bits
    y: np.ndarray  # int64 (N,), in [0, n_classes)
    n_classes: int
    frac_bits: int
    classes: tuple[str, ...] = field(default=())

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
        meta = json.dumps({"name": self.name, "n_classes": self.n_classes, "frac_bits": self.frac_bits,
                           "classes": list(self.classes)}, sort_keys=True)
        np.savez(f, X=self.X, y=self.y, meta=np.frombuffer(meta.encode(), dtype=np.uint8))

    @classmethod
    def load_raw(cls, path: str | os.PathLike) -> "Dataset":
        try:
            with np.load(path, allow_pickle=False) as z:
                X, y = z["X"].astype(np.int64), z["y"].astype(np.int64)
                meta = json.loads(bytes(z["meta"]).decode())
        except (OSError, KeyError, ValueError) as e:
            raise DataError(f"{path}: cannot read stored quantized dataset ({e})") from None
        ds = cls(meta["name"], X, y, int(meta["n_classes"]), int(meta["frac_bits"]), tuple(meta["classes"]))
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


def _labels(y_raw: np.ndarray, src: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Map raw labels to 0..C-1 (sorted order of distinct labels)."""
    if y_raw.dtype.kind in "iub":
        vals = y_raw.astype(np.int64)
    elif y_raw.dtype.kind == "f":
        if not np.all(np.isfinite(y_raw)):
            raise DataError(f"{src}: labels contain NaN or infinity")
        if not np.all(y_raw == np.round(y_raw)):
            raise DataError(f"{src}: labels must be integers (class ids), found non-integer values")
        vals = y_raw.astype(np.int64)
    elif y_raw.dtype.kind in "US":
        vals = y_raw.astype(str)
    else:
        raise DataError(f"{src}: labels have unsupported dtype {y_raw.dtype}")
    classes, y = np.unique(vals, return_inverse=True)
    if len(classes) < 2:
        raise DataError(f"{src}: needs at least 2 classes, found {len(classes)} ({classes.tolist()!r})")
    return y.astype(np.int64).reshape(-1), tuple(str(c) for c in classes.tolist())


def from_arrays(X, y, *, name: str = "arrays", R: int = 16, src: str | None = None) -> Dataset:
    """Validate float features X (N, d) and labels y (N,), standardize, quantize."""
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
    Xf = X.astype(np.float64)
    if not np.all(np.isfinite(Xf)):
        bad = np.argwhere(~np.isfinite(Xf))[0]
        raise DataError(f"{src}: X contains NaN or infinity (first at row {bad[0]}, column {bad[1]})")
    yi, classes = _labels(y, src)
    mean = Xf.mean(axis=0)
    std = Xf.std(axis=0)
    Xs = (Xf - mean) / np.where(std > 0, std, 1.0)
    Xs[:, std == 0] = 0.0
    return Dataset(name, quantize(Xs, R), yi, len(classes), R, classes)


# --------------------------------------------------------------------------- sources
def synthetic(n_samples: int = 2048, n_features: int = 16, n_classes: int = 4, *,
              clusters_per_class: int = 2, separation: float = 1.6, seed: int = 0,
              R: int = 16) -> Dataset:
    """Built-in deterministic classification task (no file, no download).

    Each class is a mixture of ``clusters_per_class`` Gaussian clusters (unit variance)
    whose centres are Gaussian with standard deviation ``separation``; sample ``i`` has
    class ``i % n_classes`` and cluster ``(i // n_classes) % clusters_per_class``. All
    randomness comes from SHAKE-256 words (Box-Muller), so the data are the same on every
    platform; the digest pins the quantized result.
    """
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
    return from_arrays(X, y, name=name, R=R)


def _need_file(path) -> str:
    p = os.fspath(path)
    if not os.path.exists(p):
        raise DataError(f"{p}: file not found")
    if not os.path.isfile(p):
        raise DataError(f"{p}: not a regular file")
    return p


def load_npz(path, *, R: int = 16, name: str | None = None) -> Dataset:
    """Load arrays ``X`` (N, d) numeric and ``y`` (N,) class labels from a .npz file."""
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
    return from_arrays(X, y, name=name or os.path.basename(p), R=R, src=p)


def load_csv(path, label_column: str = "label", *, R: int = 16, name: str | None = None) -> Dataset:
    """Load a CSV file with a header row; ``label_column`` holds labels, all other columns
    are numeric features."""
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
    return from_arrays(feats, y, name=name or os.path.basename(p), R=R, src=p)


def digits(*, R: int = 16) -> Dataset:
    """scikit-learn's bundled 8x8 handwritten digits (1797 x 64, 10 classes); no download.

    Needs the optional extra ``zkdl[digits]`` (scikit-learn)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("digits: scikit-learn is not installed (pip install 'zkdl[digits]')") from None
    d = load_digits()
    return from_arrays(d.data, d.target, name="digits", R=R)



def load_spec(spec: str, label_column: str = "label", *, R: int = 16) -> Dataset:
    """A dataset named as on the command line (``--data``): ``synthetic`` (or
    ``synthetic:N[:FEATURES[:CLASSES]]``), ``digits``, or a ``.npz`` / ``.csv`` path."""
    if spec == "synthetic" or spec.startswith("synthetic:"):
        parts = spec.split(":")[1:]
        try:
            sizes = [int(p) for p in parts]
        except ValueError:
            raise DataError(f"{spec!r}: expected synthetic[:N[:FEATURES[:CLASSES]]] with integers") from None
        if len(sizes) > 3:
            raise DataError(f"{spec!r}: at most N, FEATURES and CLASSES")
        return synthetic(R=R, **dict(zip(("n_samples", "n_features", "n_classes"), sizes)))
    if spec == "digits":
        return digits(R=R)
    lower = spec.lower()
    if lower.endswith(".npz"):
        return load_npz(spec, R=R)
    if lower.endswith(".csv"):
        return load_csv(spec, label_column, R=R)
    if not os.path.exists(spec):
        raise DataError(f"{spec}: file not found (data specs: 'synthetic', 'digits' or a .npz/.csv path)")
    raise DataError(f"{spec}: unknown data file type (expected a .npz or .csv file)")
