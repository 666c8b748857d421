"""Published single-system TarFlow checkpoints (spec flows 5.3): a fixture written in exactly that layout
(random weights, every key and shape) goes through the weights store into the method, strictly, and the
imported model's log q equals an independent plain-torch computation from the same tensors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from baselines.tarflow import TarFlow
from baselines.tarflow.config import PAPER_CONFIGS
from baselines.tarflow.method import build_net
from baselines.tarflow.published import LAYOUT, load_published_state
from benchmark.adapter import RunContext
from benchmark.tasks import get_task
from benchmark.weights import WeightsError, WeightsStore, import_published, published_file
from benchmark.weights.published import published

SIGMA_NM = 0.17


def published_layout(tokens: int, in_channels: int, channels: int, blocks: int, layers: int) -> dict[str, tuple]:
    """Key -> shape of a published single-system TarFlow file, written out from spec 5.3 (not from the model)."""
    c, shapes = channels, {}
    for b in range(blocks):
        p = f"net.blocks.{b}."
        shapes.update({p + "pos_embed": (tokens, c), p + "attn_mask": (tokens, tokens),
                       p + "proj_in.weight": (c, in_channels), p + "proj_in.bias": (c,),
                       p + "proj_out.weight": (2 * in_channels, c), p + "proj_out.bias": (2 * in_channels,)})
        for layer in range(layers):
            q = f"{p}attn_blocks.{layer}."
            shapes.update({q + "attention.norm.weight": (c,), q + "attention.norm.bias": (c,),
                           q + "attention.qkv.weight": (3 * c, c), q + "attention.qkv.bias": (3 * c,),
                           q + "attention.proj.weight": (c, c), q + "attention.proj.bias": (c,),
                           q + "mlp.norm.weight": (c,), q + "mlp.norm.bias": (c,),
                           q + "mlp.main.0.weight": (4 * c, c), q + "mlp.main.0.bias": (4 * c,),
                           q + "mlp.main.3.weight": (c, 4 * c), q + "mlp.main.3.bias": (c,)})
    return shapes


def random_state(shapes: dict[str, tuple], seed: int = 0) -> dict[str, torch.Tensor]:
    """float32 tensors of those shapes: the causal mask where the layout has one, otherwise tame random values."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        if key.endswith("attn_mask"):
            state[key] = torch.ones(shape).tril()
        elif key.endswith("norm.weight"):
            state[key] = 1 + 0.1 * torch.randn(shape, generator=gen)
        elif key.endswith("weight"):
            scale = 2e-3 if "proj_out" in key else 1 / math.sqrt(shape[1])
            state[key] = scale * torch.randn(shape, generator=gen)
        else:
            state[key] = 0.05 * torch.randn(shape, generator=gen)
    return state


def reference_log_prob(state: dict[str, torch.Tensor], x: torch.Tensor, in_channels: int, heads: int) -> torch.Tensor:
    """log q(x) of standardized x (B, 3N) in float64, straight from the published tensors and spec 4.1/4.2."""
    w = {k[len("net."):]: v.double() for k, v in state.items()}
    n_blocks = 1 + max(int(k.split(".")[1]) for k in w)
    n_layers = 1 + max(int(k.split(".")[3]) for k in w if ".attn_blocks." in k)
    bsz = x.shape[0]
    h = x.double().reshape(bsz, -1, in_channels)
    logdet = torch.zeros(bsz, dtype=torch.float64)
    for b in range(n_blocks):
        def p(name: str) -> torch.Tensor:
            return w[f"blocks.{b}.{name}"]

        flip = b % 2 == 1
        xin = h.flip(1) if flip else h
        pos = p("pos_embed").flip(0) if flip else p("pos_embed")
        u = xin @ p("proj_in.weight").T + p("proj_in.bias") + pos
        t, c = u.shape[1], u.shape[2]
        hd = c // heads
        for layer in range(n_layers):
            q_ = f"attn_blocks.{layer}."
            n = F.layer_norm(u, (c,), p(q_ + "attention.norm.weight"), p(q_ + "attention.norm.bias"))
            qkv = n @ p(q_ + "attention.qkv.weight").T + p(q_ + "attention.qkv.bias")
            q, k, v = (m.reshape(bsz, t, heads, hd).transpose(1, 2) for m in qkv.split(c, dim=-1))
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
            scores = scores.masked_fill(p("attn_mask") == 0, float("-inf"))
            att = (scores.softmax(-1) @ v).transpose(1, 2).reshape(bsz, t, c)
            u = u + att @ p(q_ + "attention.proj.weight").T + p(q_ + "attention.proj.bias")
            n = F.layer_norm(u, (c,), p(q_ + "mlp.norm.weight"), p(q_ + "mlp.norm.bias"))
            hidden = F.gelu(n @ p(q_ + "mlp.main.0.weight").T + p(q_ + "mlp.main.0.bias"))
            u = u + hidden @ p(q_ + "mlp.main.3.weight").T + p(q_ + "mlp.main.3.bias")
        o = u @ p("proj_out.weight").T + p("proj_out.bias")
        o = torch.cat([torch.zeros_like(o[:, :1]), o[:, :-1]], dim=1)
        a, s = o[..., :in_channels], o[..., in_channels:]
        zin = (xin - s) * torch.exp(-a)
        h = zin.flip(1) if flip else zin
        logdet = logdet - a.sum((1, 2))
    z = h.reshape(bsz, -1)
    return -0.5 * (z**2).sum(1) - 0.5 * z.shape[1] * math.log(2 * math.pi) + logdet


ALDP = dict(tokens=66, in_channels=1, channels=256, blocks=4, layers=4)  # the published Ace-A-Nme model


@pytest.fixture(scope="module")
def aldp_state() -> dict[str, torch.Tensor]:
    return random_state(published_layout(**ALDP))


class FakeContext(RunContext):
    """Training frames: jittered copies of the minimized structure, rescaled so their std is SIGMA_NM."""

    def training_positions(self, system_name):
        x0 = self.task.system(system_name).build().minimized_positions
        x = x0[None] + 0.05 * np.random.default_rng(0).standard_normal((32, *x0.shape))
        x = x - x.mean(1, keepdims=True)
        return x * (SIGMA_NM / x.std(ddof=1))

    def training_data_hash(self, system_name=None):
        return "fake"


def test_the_layout_of_every_published_system_maps_onto_the_model():
    """Every published key of the five systems has a model key of the same shape, and the other way round."""
    for task, cfg in PAPER_CONFIGS.items():
        n_atoms = get_task(task).systems[0].build().n_atoms
        with torch.device("meta"):
            net = build_net(cfg, n_atoms)
        shapes = published_layout(net.tokens, cfg.in_channels, cfg.channels, cfg.blocks, cfg.layers_per_block)
        mapped = {LAYOUT.module_key(k): v for k, v in shapes.items() if LAYOUT.module_key(k) is not None}
        own = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        assert mapped == own, task
        assert len(shapes) - len(mapped) == cfg.blocks  # only the causal masks are dropped


def test_strict_load_gives_the_log_q_of_a_plain_torch_computation(aldp_state):
    net = build_net(PAPER_CONFIGS["ALDP"], 22).eval()
    load_published_state(net, aldp_state)
    x = torch.randn(5, 66, generator=torch.Generator().manual_seed(1))
    expected = reference_log_prob(aldp_state, x, in_channels=1, heads=4)
    with torch.no_grad():
        got = net.log_prob(x)
    assert torch.isfinite(expected).all() and expected.std() > 1  # the random weights make log q depend on x
    assert torch.allclose(got.double(), expected, atol=2e-3, rtol=1e-5)


def test_the_published_file_loads_through_the_weights_store_into_the_method(tmp_path, aldp_state):
    name = "tarflow_Ace-A-Nme_0"
    spec = published(name)
    assert (spec.hub_repo, spec.filename, spec.method) == (
        "transferable-samplers/model-weights", "single_system/tarflow_Ace-A-Nme_0.pth", "tarflow")
    download = tmp_path / "download" / "single_system"
    download.mkdir(parents=True)
    torch.save(aldp_state, download / "tarflow_Ace-A-Nme_0.pth")  # a plain torch.save state dict, as published
    store = WeightsStore(tmp_path / "weights")
    import_published(name, tmp_path / "download", store)
    assert published_file(name, store).is_file()

    task = get_task("ALDP")
    ctx = FakeContext(seed=0, tier="paper", budget=10, task=task, systems=task.systems, weights=store)
    method = TarFlow(weights="published")
    method.configure(task, "paper")
    method.setup(task, ctx)
    system = task.systems[0].build()
    x_nm = 0.17 * torch.randn(4, 22, 3, generator=torch.Generator().manual_seed(2))
    sigma = method.info[system.name]["sigma"]
    assert sigma == pytest.approx(SIGMA_NM, rel=1e-6) and method.source_facts(system, ctx).coordinate_scale_nm == sigma
    expected = reference_log_prob(aldp_state, (x_nm / sigma).reshape(4, -1), 1, 4) - 66 * math.log(sigma)
    got = method.log_q(system, x_nm, ctx).detach()
    assert torch.isfinite(expected).all()
    assert torch.allclose(got.double(), expected, atol=2e-3, rtol=1e-5)
    assert method.diagnostics(system, ctx)["published"] == name

    (tmp_path / "weights" / "published" / name / "tarflow_Ace-A-Nme_0.pth").write_bytes(b"tampered")
    with pytest.raises(WeightsError, match="does not match its manifest"):
        TarFlow(weights="published").setup(task, ctx)


def small_layout() -> tuple[dict[str, tuple], torch.nn.Module]:
    cfg = PAPER_CONFIGS["AL3"].override({"channels": 64, "blocks": 2, "layers_per_block": 1})
    return published_layout(33, 3, 64, 2, 1), build_net(cfg, 33)


@pytest.mark.parametrize("damage", ["missing", "unexpected", "shape", "prefix", "mask", "no-mask"])
def test_loading_is_strict(damage):
    shapes, net = small_layout()
    state = random_state(shapes)
    load_published_state(net, dict(state))  # intact: loads
    if damage == "missing":
        del state["net.blocks.1.attn_blocks.0.mlp.main.3.bias"]
    elif damage == "unexpected":
        state["net.blocks.0.attn_blocks.0.attention.q_layer_norm.weight"] = torch.ones(64)
    elif damage == "shape":
        state["net.blocks.0.pos_embed"] = torch.zeros(34, 64)
    elif damage == "prefix":
        state["teacher.blocks.0.pos_embed"] = torch.zeros(33, 64)
    elif damage == "mask":
        state["net.blocks.1.attn_mask"] = torch.ones(33, 33)
    else:
        del state["net.blocks.0.attn_mask"]
    with pytest.raises(WeightsError):
        load_published_state(net, state)
