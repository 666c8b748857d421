"""The released ROBIN checkpoint's layout (spec 9.2-9.3, 11): a fixture in exactly that layout loads strictly,
and the loaded model's log q equals a plain-torch forward pass written here from the spec, on the same tensors.

The fixture is a Lightning-style .ckpt: ``state_dict`` with every key of spec 9.3 under ``net.`` (random
values), and ``hyper_parameters`` pickling an object whose class lives in a module that does not exist
here (``src.models...``), as the real file's network object does. The default test uses the spec's keys
at reduced widths; ``-m slow`` repeats it at the published sizes (131,982,336 parameters, 160 entries).
"""

from __future__ import annotations

import math
import sys
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from baselines.robin import Robin
from benchmark.adapter import RunContext
from benchmark.systems import AMBER14_OBC1, ZWITTERION, SystemSpec
from benchmark.systems.encodings import atom_encodings
from benchmark.tasks import get_task
from benchmark.weights import WeightsError, WeightsStore, import_published, load_state_dict

SMALL = dict(num_bins=32, channels=16, layers=2, heads=2, head_dim=8, max_atoms=30)
PAPER = dict(num_bins=8192, channels=768, layers=16, heads=12, head_dim=64, max_atoms=178)
SIGMA, LO, HI = 0.35, -4.5, 4.5  # the released standardization and bin range (spec 1.2, 2.1)


def published_shapes(num_bins: int, channels: int, layers: int, heads: int, head_dim: int, max_atoms: int) -> dict:
    """Spec 9.3's table, in state-dict order: key -> (shape, dtype)."""
    B, C, N, W = num_bins, channels, max_atoms, heads * head_dim
    F_ = int(2 * 4 * C / 3)
    S = 3 * N
    f32 = torch.float32
    out = {"token_embed.weight": ((B, C), f32), "pos_embed.pe": ((S, C), f32), "coord_dim_embed.weight": ((3, C), f32),
           "atom_pos_embed.weight": ((N, C), f32), "cond_embed.atom_embed.weight": ((64, C), f32),
           "cond_embed.residue_embed.weight": ((32, C), f32), "cond_embed.proj.0.weight": ((C, 5 * C), f32),
           "cond_embed.proj.0.bias": ((C,), f32), "cond_embed.proj.2.weight": ((C, C), f32),
           "cond_embed.proj.2.bias": ((C,), f32), "global_cond_attn.in_proj_weight": ((3 * C, C), f32),
           "global_cond_attn.in_proj_bias": ((3 * C,), f32), "global_cond_attn.out_proj.weight": ((C, C), f32),
           "global_cond_attn.out_proj.bias": ((C,), f32)}
    for i in range(layers):
        b = f"blocks.{i}."
        out.update({b + "norm1.weight": ((C,), f32), b + "norm2.weight": ((C,), f32),
                    b + "attn.causal_mask": ((S, S), torch.bool), b + "attn.qkv.weight": ((3 * W, C), f32),
                    b + "attn.out_proj.weight": ((C, W), f32), b + "ff.net.0.w1.weight": ((F_, C), f32),
                    b + "ff.net.0.w2.weight": ((F_, C), f32), b + "ff.net.2.weight": ((C, F_), f32),
                    b + "ff.net.2.bias": ((C,), f32)})
    out.update({"final_norm.weight": ((C,), f32), "output_proj.weight": ((B, C), f32)})
    return out


def sinusoids(values: torch.Tensor, dim: int) -> torch.Tensor:
    """Spec 3.1: PE[v, 2i] = sin(v 10000^(-2i/C)), PE[v, 2i+1] = cos(...), float64."""
    i = torch.arange(0, dim, 2, dtype=torch.float64)
    arg = values.double()[:, None] * torch.exp(-math.log(10000.0) * i / dim)
    out = torch.zeros(len(values), dim, dtype=torch.float64)
    out[:, 0::2], out[:, 1::2] = torch.sin(arg), torch.cos(arg)
    return out


def write_fixture(path, sizes: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    """A Lightning-style checkpoint with random weights in the published layout; returns its state dict."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, (shape, dtype) in published_shapes(**sizes).items():
        if dtype == torch.bool:
            state["net." + key] = torch.ones(shape, dtype=torch.bool).triu(1)
        elif key == "pos_embed.pe":
            state["net." + key] = sinusoids(torch.arange(shape[0]), shape[1]).float()
        elif key.endswith("norm1.weight") or key.endswith("norm2.weight") or key == "final_norm.weight":
            state["net." + key] = 1 + 0.1 * torch.randn(shape, generator=gen)
        else:
            scale = 0.3 if shape[-1] <= 64 else 1 / math.sqrt(shape[-1])
            state["net." + key] = scale * torch.randn(shape, generator=gen)
    # The training code's class, importable only while the file is written (as on the authors' machine)
    parts = "src.models.neural_networks.autoregressive.causal_transformer".split(".")
    names = [".".join(parts[: i + 1]) for i in range(len(parts))]
    assert not any(name in sys.modules for name in names)
    for name in names:
        sys.modules[name] = types.ModuleType(name)
    net_class = type("CausalTransformer", (), {"__module__": names[-1]})
    sys.modules[names[-1]].CausalTransformer = net_class
    try:
        hyper = {"net": net_class(), "num_bins": sizes["num_bins"], "discretize_min": LO, "discretize_max": HI,
                 "temperature": 0.95, "top_k": None, "top_p": None, "use_mu_law": False}
        torch.save({"epoch": 999, "global_step": 1_000_000, "pytorch-lightning_version": "2.5.0",
                    "state_dict": state, "hyper_parameters": hyper}, path)
    finally:
        for name in names:
            del sys.modules[name]
    return state


def direct_log_q(state: dict[str, torch.Tensor], enc: dict[str, np.ndarray], x_nm: torch.Tensor, heads: int,
                 temperature: float) -> torch.Tensor:
    """log q(x) in nm^-3N from the published tensors alone: the forward pass of spec 3.1-3.4 in float64."""
    w = {k[len("net."):]: v.double() for k, v in state.items() if v.dtype != torch.bool}
    B, C = w["token_embed.weight"].shape
    n = len(enc["atom_type"])
    d = 3 * n
    x = (x_nm.reshape(len(x_nm), d) / SIGMA).double()
    bins = torch.round((x.clamp(LO, HI) - LO) / (HI - LO) * (B - 1)).long()
    tokens = torch.cat([torch.zeros(len(x), 1, dtype=torch.long), bins[:, :-1]], 1)
    p = torch.arange(d)

    def rms(h, g):
        return h / torch.sqrt(h.pow(2).mean(-1, keepdim=True) + 1e-6) * g

    def attend(q, k, v, causal):
        hd = q.shape[-1] // heads
        split = lambda t: t.reshape(*t.shape[:-1], heads, hd).transpose(-2, -3)  # noqa: E731
        a = split(q) @ split(k).transpose(-1, -2) / math.sqrt(hd)
        if causal:
            a = a.masked_fill(torch.ones(a.shape[-2:], dtype=torch.bool).triu(1), -math.inf)
        return (a.softmax(-1) @ split(v)).transpose(-2, -3).reshape(*q.shape[:-1], -1)

    h = w["token_embed.weight"][tokens] + sinusoids(p, C) + w["coord_dim_embed.weight"][p % 3] \
        + w["atom_pos_embed.weight"][p // 3]
    feats = torch.cat([w["cond_embed.atom_embed.weight"][enc["atom_type"]], w["cond_embed.residue_embed.weight"][enc["aa_type"]],
                       sinusoids(torch.as_tensor(enc["aa_pos"]), C), sinusoids(torch.full((n,), enc["seq_len"]), C),
                       sinusoids(torch.arange(n), C)], -1)
    hidden = F.gelu(feats @ w["cond_embed.proj.0.weight"].T + w["cond_embed.proj.0.bias"])
    cond = hidden @ w["cond_embed.proj.2.weight"].T + w["cond_embed.proj.2.bias"]
    h = h + cond[p // 3]
    wq, wk, wv = w["global_cond_attn.in_proj_weight"].chunk(3)
    bq, bk, bv = w["global_cond_attn.in_proj_bias"].chunk(3)
    g = attend(h @ wq.T + bq, cond @ wk.T + bk, cond @ wv.T + bv, causal=False)
    h = h + g @ w["global_cond_attn.out_proj.weight"].T + w["global_cond_attn.out_proj.bias"]
    i = 0
    while f"blocks.{i}.norm1.weight" in w:
        b = f"blocks.{i}."
        q, k, v = (rms(h, w[b + "norm1.weight"]) @ w[b + "attn.qkv.weight"].T).chunk(3, -1)
        h = h + attend(q, k, v, causal=True) @ w[b + "attn.out_proj.weight"].T
        f = rms(h, w[b + "norm2.weight"])
        h = h + (F.silu(f @ w[b + "ff.net.0.w1.weight"].T) * (f @ w[b + "ff.net.0.w2.weight"].T)) @ w[b + "ff.net.2.weight"].T \
            + w[b + "ff.net.2.bias"]
        i += 1
    logits = rms(h, w["final_norm.weight"]) @ w["output_proj.weight"].T
    logp = torch.log_softmax(logits / temperature, -1).gather(-1, bins[..., None]).squeeze(-1).sum(-1)
    width = (HI - LO) / (B - 1)  # bgbench's exact "grid" de-quantization width
    return logp - d * math.log(width) - d * math.log(SIGMA)


class NoCorpus(RunContext):
    """Published weights need no training data: touching it is an error."""

    def training_corpus(self):
        raise AssertionError("the published path must not read the corpus")


def robin_from(path, tmp_path, sizes: dict) -> tuple[Robin, RunContext]:
    task = get_task("4AA")
    store = WeightsStore(tmp_path / "weights", shipped=None)
    import_published("robin", path, store)
    spec = SystemSpec("AG", "AG", ZWITTERION, AMBER14_OBC1)
    ctx = NoCorpus(seed=0, tier="paper", budget=10, task=task, systems=(spec,), weights=store)
    method = Robin(**sizes, weights="published", sample_batch_size=4)
    method.configure(task, "paper")
    method.setup(task, ctx)
    return method, ctx


def check_against_direct(path, tmp_path, sizes: dict, n_samples: int) -> None:
    state = load_state_dict(path)
    assert set(state) == {"net." + k for k in published_shapes(**sizes)}
    method, ctx = robin_from(path, tmp_path, sizes)
    system = ctx.systems[0].build()
    x, lq = method.propose(system, n_samples, ctx)
    with torch.no_grad():
        teacher = method.log_q(system, x, ctx)
    enc = atom_encodings(system)
    direct = direct_log_q(state, {"atom_type": torch.as_tensor(enc.atom_type), "aa_type": torch.as_tensor(enc.aa_type),
                                  "aa_pos": enc.aa_pos, "seq_len": enc.seq_len}, x, sizes["heads"], 0.95)
    assert torch.allclose(teacher, direct, rtol=0, atol=2e-3), (teacher - direct).abs().max()
    assert torch.allclose(lq, direct, rtol=0, atol=2e-3)


def test_a_fixture_in_the_published_layout_loads_strictly_and_its_log_q_is_the_direct_computation(tmp_path):
    path = tmp_path / "robin.ckpt"
    write_fixture(path, SMALL)
    with pytest.raises(Exception):  # the real container cannot be read the ordinary safe way
        torch.load(path, weights_only=True)
    check_against_direct(path, tmp_path, SMALL, n_samples=3)


def test_a_missing_or_misshaped_key_is_refused(tmp_path):
    path = tmp_path / "robin.ckpt"
    state = write_fixture(path, SMALL)
    del state["net.blocks.1.ff.net.2.bias"]
    torch.save({"state_dict": state}, path)
    with pytest.raises(WeightsError, match="missing 1 key"):
        robin_from(path, tmp_path, SMALL)
    with pytest.raises(WeightsError, match="shape mismatch"):
        robin_from(tmp_path / "robin.ckpt", tmp_path / "b", {**SMALL, "num_bins": 64})


def test_the_paper_tier_without_the_release_says_how_to_get_it(tmp_path):
    task = get_task("8AA")
    ctx = NoCorpus(seed=0, tier="paper", budget=10, task=task, systems=(), weights=WeightsStore(tmp_path, shipped=None))
    method = Robin(**SMALL)
    method.configure(task, "paper")
    assert method.cfg.weights == "published"
    with pytest.raises(WeightsError, match="bgbench weights fetch robin.*bgbench weights import robin"):
        method.setup(task, ctx)


@pytest.mark.slow  # ~1 min and ~2 GB: the fixture at the published sizes
def test_the_full_size_fixture_loads_strictly_with_the_published_count(tmp_path):
    path = tmp_path / "robin.ckpt"
    state = write_fixture(path, PAPER)
    assert len(state) == 160
    assert sum(v.numel() for k, v in state.items() if "causal_mask" not in k and "pos_embed.pe" not in k) == 131_982_336
    del state
    check_against_direct(path, tmp_path, PAPER, n_samples=1)
