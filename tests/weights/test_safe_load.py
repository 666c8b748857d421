"""Loading published checkpoints without running their code, and strict layouts."""

from __future__ import annotations

import pickle
import sys
import types
import zipfile

import pytest
import torch
from torch import nn

from benchmark.weights import Layout, WeightsError, load_into, load_state_dict


def _fake_training_module():
    """A module path like the reference code's, holding a class that must never be needed to load."""
    mod = types.ModuleType("src_fake.models.net")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)

    Net.__module__ = mod.__name__
    Net.__qualname__ = "Net"
    mod.Net = Net
    sys.modules["src_fake"] = types.ModuleType("src_fake")
    sys.modules["src_fake.models"] = types.ModuleType("src_fake.models")
    sys.modules[mod.__name__] = mod
    return mod


def test_lightning_checkpoint_with_pickled_classes_loads_state_dict_only(tmp_path):
    mod = _fake_training_module()
    net = mod.Net()
    path = tmp_path / "model.ckpt"
    torch.save({"state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
                "hyper_parameters": {"net": net, "lr": 1e-3}, "epoch": 3}, path)
    for name in ("src_fake", "src_fake.models", mod.__name__):
        del sys.modules[name]  # the training code is not importable where bgbench loads weights
    state = load_state_dict(path)
    assert set(state) == {"net.lin.weight", "net.lin.bias"}
    assert torch.equal(state["net.lin.weight"], net.lin.weight.detach())


class _Exploit:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


def test_a_hostile_pickle_runs_no_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "hyper_parameters": _Exploit()}, path)
    state = load_state_dict(path)
    assert torch.equal(state["w"], torch.ones(2))
    assert not (tmp_path / "PWNED").exists()


def test_plain_state_dicts_and_safetensors(tmp_path):
    from safetensors.torch import save_file

    torch.save({"a": torch.zeros(3)}, tmp_path / "plain.pth")
    save_file({"b": torch.ones(2)}, str(tmp_path / "w.safetensors"))
    assert set(load_state_dict(tmp_path / "plain.pth")) == {"a"}
    assert set(load_state_dict(tmp_path / "w.safetensors")) == {"b"}
    (tmp_path / "junk.pth").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(WeightsError):
        load_state_dict(tmp_path / "junk.pth")
    assert not zipfile.is_zipfile(tmp_path / "junk.pth")


def test_layout_loads_strictly_and_names_what_does_not_fit():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    published = {"net.first.weight": torch.randn(4, 3), "net.first.bias": torch.randn(4),
                 "net.last.weight": torch.randn(2, 4), "net.last.bias": torch.randn(2), "net.mask": torch.ones(2)}
    layout = Layout("toy", strip_prefix="net.", renames=((r"^first\.", "0."), (r"^last\.", "2.")), drop=(r"mask",))
    load_into(model, published, layout)
    assert torch.equal(model[0].weight, published["net.first.weight"])
    with pytest.raises(WeightsError, match="missing 2 key"):
        load_into(model, {k: v for k, v in published.items() if "last" not in k}, layout)
    with pytest.raises(WeightsError, match="shape mismatch"):
        load_into(model, {**published, "net.last.bias": torch.randn(3)}, layout)
    with pytest.raises(WeightsError, match="unexpected"):
        load_into(model, {**published, "net.extra": torch.ones(1)}, layout)
