"""TrainConfig: defaults, canonical JSON, digest, validation."""

import json

import pytest

from zkdl import TrainConfig
from zkdl.data import synthetic
from zkdl.errors import ConfigError


def test_defaults_are_eight_layers():
    c = TrainConfig()
    assert c.layers == 8
    assert c.width == (32,) * 7
    assert c.R == 16 and c.Q == 32 and c.update_bits == 16 and c.loss == "mse"
    assert c.eta == c.lr_num / 2 ** c.lr_shift


def test_width_int_and_tuple_normalize_to_same_digest():
    assert TrainConfig(width=64, layers=4).digest() == TrainConfig(width=(64, 64, 64)).digest()
    c = TrainConfig(width=(20, 10))
    assert c.layers == 3 and c.hidden == (20, 10)


def test_canonical_json_and_round_trip():
    c = TrainConfig(width=(24, 16, 8), batch_size=8, lr_num=3, lr_shift=10, steps=7, batch_seed=5)
    s = c.to_json()
    assert " " not in s and "\n" not in s
    d = json.loads(s)
    assert list(d) == sorted(d)
    assert json.dumps(d, sort_keys=True, separators=(",", ":")) == s
    c2 = TrainConfig.from_json(s)
    assert c2 == c and c2.to_json() == s and c2.digest() == c.digest()
    assert c.digest() == __import__("hashlib").sha256(s.encode()).hexdigest()


@pytest.mark.parametrize("field,value", [("lr_num", 2), ("lr_shift", 8), ("R", 12), ("batch_seed", 1),
                                         ("init_seed", 1), ("width", 16), ("batch_size", 16)])
def test_digest_changes_with_every_field(field, value):
    assert TrainConfig().replace(**{field: value}).digest() != TrainConfig().digest()


@pytest.mark.parametrize("kwargs,fragment", [
    (dict(width=0), "width"),
    (dict(width=(8, -1)), "width"),
    (dict(width="8"), "width"),
    (dict(width=(8, 8), layers=5), "layers must be 3"),
    (dict(layers=0), "layers"),
    (dict(batch_size=0), "batch_size"),
    (dict(R=0), "R"),
    (dict(R=16, Q=17), "Q must be at least"),
    (dict(R=16, Q=50), r"Q \+ R must be"),
    (dict(update_bits=0), "update_bits"),
    (dict(update_bits=40), "update_bits"),
    (dict(lr_num=0), "lr_num"),
    (dict(lr_shift=-1), "lr_shift"),
    (dict(lr_shift=50), "lr_shift"),
    (dict(steps=-1), "steps"),
    (dict(batch_seed=-1), "batch_seed"),
    (dict(init_seed=2 ** 64), "init_seed"),
    (dict(loss="xent"), "loss"),
    (dict(n_classes=1), "n_classes"),
    (dict(batch_size=1.5), "batch_size"),
    (dict(R=True), "R"),
])
def test_validation(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        TrainConfig(**kwargs)


def test_from_json_errors():
    with pytest.raises(ConfigError, match="unknown config field"):
        TrainConfig.from_json('{"widht":3}')
    with pytest.raises(ConfigError, match="not valid JSON"):
        TrainConfig.from_json("{")
    with pytest.raises(ConfigError, match="JSON object"):
        TrainConfig.from_json("[1]")


def test_for_data_fills_sizes_and_checks():
    d = synthetic(n_samples=64, n_features=5, n_classes=3)
    c = TrainConfig(width=8, layers=3, batch_size=16).for_data(d)
    assert (c.n_features, c.n_classes) == (5, 3)
    assert c.dims() == (5, 8, 8, 3)
    assert c.for_data(d) == c
    with pytest.raises(ConfigError, match="n_features"):
        c.replace(n_features=6).for_data(d)
    with pytest.raises(ConfigError, match="n_classes"):
        c.replace(n_classes=4).for_data(d)
    with pytest.raises(ConfigError, match="fractional bits"):
        c.replace(R=12).for_data(d)
    with pytest.raises(ConfigError, match="batch_size"):
        c.replace(batch_size=65).for_data(d)
    with pytest.raises(ConfigError, match="for_data"):
        TrainConfig().dims()
