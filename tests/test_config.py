"""Typed method configs: checked overrides, resolved dicts, training keys."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from benchmark.config import ConfigError, MethodConfig


@dataclass(frozen=True)
class Toy(MethodConfig):
    SAMPLING_ONLY = frozenset({"temperature"})

    steps: int = 10
    lr: float = 1e-3
    rotate: bool = True
    temperature: float = 1.0
    optimizer: str = "adamw"
    epochs: int | None = None
    bins: tuple[int, ...] = (4, 8)


def test_override_coerces_yaml_scalars_and_keeps_the_rest():
    cfg = Toy().override({"steps": 20.0, "lr": 1, "epochs": None, "bins": "1,2,3"})
    assert (cfg.steps, cfg.lr, cfg.epochs, cfg.bins, cfg.rotate) == (20, 1.0, None, (1, 2, 3), True)
    assert isinstance(cfg.lr, float)


def test_unknown_keys_name_every_valid_key():
    with pytest.raises(ConfigError) as err:
        Toy().override({"setps": 3})
    for key in ("steps", "lr", "rotate", "temperature", "optimizer", "epochs", "bins"):
        assert key in str(err.value)


@pytest.mark.parametrize("key, value", [("steps", True), ("steps", 1.5), ("rotate", 1), ("lr", "fast"), ("optimizer", 3)])
def test_wrong_types_are_refused(key, value):
    with pytest.raises(ConfigError):
        Toy().override({key: value})


def test_training_key_leaves_out_sampling_only_fields_and_to_dict_has_all():
    cfg = Toy()
    assert "temperature" not in cfg.training_key() and "steps" in cfg.training_key()
    assert set(cfg.to_dict()) == set(Toy.field_names())
    assert cfg.to_dict()["bins"] == [4, 8]  # JSON-ready
