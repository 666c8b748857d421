"""Published Prose and transferable TarFlow checkpoints (spec flows 5.1, 5.2): fixtures written in exactly
those layouts (random weights, every key and shape) load strictly, through the weights store into the
method, and the loaded model's log q equals a plain-torch computation from the same tensors (spec 4.3)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from baselines.prose import Prose, TransferableTarFlow
from baselines.prose.config import PAPER_CONFIGS
from baselines.prose.method import build_net
from baselines.prose.published import LAYOUTS
from baselines.tarflow.published import load_published_state
from benchmark.adapter import RunContext
from benchmark.tasks import get_task
from benchmark.weights import WeightsError, WeightsStore, import_published, published_file
from benchmark.weights.published import published
from tests.prose.helpers import batch_inputs, peptides

TOKENS = 178
PROSE_KEYS = ("n2c_backbone-first_standard", "n2c_residue-by-residue_standard_flip", "n2c_backbone-first_standard_flip",
              "n2c_residue-by-residue_standard", "n2c_backbone-first_variant", "n2c_residue-by-residue_variant_flip",
              "n2c_backbone-first_variant_flip", "n2c_residue-by-residue_variant")
TARFLOW_KEYS = ("n2c_residue-by-residue_standard", "n2c_residue-by-residue_standard_flip")


def published_layout(arch: str, c: int, blocks: int, layers: int) -> dict[str, tuple]:
    """Key -> shape of a published file, written out from spec 5.1 / 5.2 (not from the model)."""
    shapes: dict[str, tuple] = {"net.cond_embed.atom_embed.weight": (128, c), "net.cond_embed.residue_embed.weight": (64, c),
                                "net.cond_embed.mlp.0.weight": (c, 4 * c), "net.cond_embed.mlp.0.bias": (c,),
                                "net.cond_embed.mlp.2.weight": (c, c), "net.cond_embed.mlp.2.bias": (c,)}
    attention = {"attention.norm.weight": (c,), "attention.norm.bias": (c,), "attention.qkv.weight": (3 * c, c),
                 "attention.qkv.bias": (3 * c,), "attention.proj.weight": (c, c), "attention.proj.bias": (c,),
                 "attention.q_layer_norm.weight": (c,), "attention.q_layer_norm.bias": (c,),
                 "attention.k_layer_norm.weight": (c,), "attention.k_layer_norm.bias": (c,),
                 "mlp.norm.weight": (c,), "mlp.norm.bias": (c,), "mlp.main.0.weight": (4 * c, c),
                 "mlp.main.0.bias": (4 * c,), "mlp.main.2.weight": (c, 4 * c), "mlp.main.2.bias": (c,)}

    def adaln(p: str) -> dict[str, tuple]:
        return {p + "adaln.norm_cond.weight": (c,), p + "adaln.norm_cond.bias": (c,),
                p + "adaln.to_gamma.0.weight": (c, c), p + "adaln.to_gamma.0.bias": (c,), p + "adaln.to_beta.weight": (c, c),
                p + "scale_output.to_adaln_zero_gamma.0.weight": (c, c), p + "scale_output.to_adaln_zero_gamma.0.bias": (c,)}

    for b in range(blocks):
        p = f"net.blocks.{b}."
        shapes.update({p + "pos_embed_scale": (1,), p + "attn_mask": (TOKENS, TOKENS), p + "proj_in.weight": (c, 3),
                       p + "proj_in.bias": (c,), p + "proj_out.weight": (6, c), p + "proj_out.bias": (6,)})
        if arch == "prose":
            shapes.update({p + "proj_cond.0.weight": (c, 2 * c), p + "proj_cond.0.bias": (c,),
                           p + "proj_cond.2.weight": (c, c), p + "proj_cond.2.bias": (c,)})
        else:
            shapes.update({p + "proj_cond.weight": (c, c), p + "proj_cond.bias": (c,)})
        for layer in range(layers):
            q = f"{p}attn_blocks.{layer}."
            if arch == "prose":
                shapes.update({f"{q}mha.mha.{k}": v for k, v in attention.items()})
                shapes.update(adaln(q + "mha.") | adaln(q + "transition."))
                shapes.update({q + "transition.transition.swish_linear.0.weight": (8 * c, c),
                               q + "transition.transition.linear_out.weight": (c, 4 * c)})
            else:
                shapes.update({q + k: v for k, v in attention.items()})
    return shapes


def random_state(shapes: dict[str, tuple], seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        if key.endswith("attn_mask"):
            state[key] = torch.ones(shape).tril()
        elif key.endswith("norm.weight") or key.endswith("norm_cond.weight") or key.endswith("layer_norm.weight"):
            state[key] = 1 + 0.1 * torch.randn(shape, generator=gen)
        elif key.endswith("embed.weight"):
            state[key] = torch.randn(shape, generator=gen)
        elif key.endswith("pos_embed_scale"):
            state[key] = 0.3 + 0.1 * torch.rand(shape, generator=gen)
        elif key.endswith("weight"):
            scale = 0.02 if "proj_out" in key else 1 / math.sqrt(shape[1])
            state[key] = scale * torch.randn(shape, generator=gen)
        else:
            state[key] = 0.05 * torch.randn(shape, generator=gen)
    return state


def sinusoid(values: torch.Tensor, dim: int, base: float) -> torch.Tensor:
    """Entries 2i = sin(v w_i), 2i+1 = cos(v w_i), w_i = exp(-2i ln(base) / dim) (spec 4.3.1)."""
    i = torch.arange(dim // 2, dtype=torch.float64)
    arg = values.double()[..., None] * torch.exp(-2 * i * math.log(base) / dim)
    return torch.stack([arg.sin(), arg.cos()], dim=-1).flatten(-2)


def reference_log_prob(state, arch: str, x: torch.Tensor, enc: dict, orderings: dict, heads: int) -> torch.Tensor:
    """log q(x) of one unpadded peptide x (B, N, 3), float64, from the published tensors and spec 4.1, 4.3."""
    w = {k[len("net."):]: v.double() for k, v in state.items()}
    n_blocks = 1 + max(int(k.split(".")[1]) for k in w if k.startswith("blocks."))
    n_layers = 1 + max(int(k.split(".")[3]) for k in w if ".attn_blocks." in k)
    keys = PROSE_KEYS if arch == "prose" else TARFLOW_KEYS
    bsz, n, _ = x.shape
    c_dim = w["cond_embed.mlp.2.weight"].shape[0]
    hd = c_dim // heads

    def lin(v, name, bias=True):
        return v @ w[name + ".weight"].T + (w[name + ".bias"] if bias else 0)

    def ln(v, name=None):
        return F.layer_norm(v, (c_dim,), None if name is None else w[name + ".weight"],
                            None if name is None else w[name + ".bias"])

    feats = torch.cat([w["cond_embed.atom_embed.weight"][enc["atom_type"][0]],
                       w["cond_embed.residue_embed.weight"][enc["aa_type"][0]],
                       sinusoid(enc["aa_pos"][0], c_dim, 1000.0),
                       sinusoid(enc["seq_len"].expand(n), c_dim, 1000.0)], dim=-1)
    cond = lin(F.gelu(lin(feats, "cond_embed.mlp.0")), "cond_embed.mlp.2")  # (N, C)

    def attention_block(u, p):
        t = u.shape[1]
        qkv = lin(ln(u, p + "attention.norm"), p + "attention.qkv")
        q, k, v = qkv.split(c_dim, dim=-1)
        q, k = ln(q, p + "attention.q_layer_norm"), ln(k, p + "attention.k_layer_norm")
        q, k, v = (m.reshape(bsz, t, heads, hd).transpose(1, 2) for m in (q, k, v))
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        scores = scores.masked_fill(torch.ones(t, t).tril() == 0, float("-inf"))
        u = u + lin((scores.softmax(-1) @ v).transpose(1, 2).reshape(bsz, t, c_dim), p + "attention.proj")
        return u + lin(F.gelu(lin(ln(u, p + "mlp.norm"), p + "mlp.main.0")), p + "mlp.main.2")

    def adaln(u, cemb, p):
        cn = ln(cemb, p + "adaln.norm_cond")
        return ln(u) * torch.sigmoid(lin(cn, p + "adaln.to_gamma.0")) + lin(cn, p + "adaln.to_beta", bias=False)

    def gate(cemb, p):
        return torch.sigmoid(lin(cemb, p + "scale_output.to_adaln_zero_gamma.0"))

    h, logdet = x.double(), torch.zeros(bsz, dtype=torch.float64)
    table = sinusoid(torch.arange(n, dtype=torch.float64), c_dim, 10000.0)
    for b in range(n_blocks):
        pre = f"blocks.{b}."
        perm = torch.as_tensor(orderings[keys[b % len(keys)]])
        xin = h[:, perm]
        u = lin(xin, pre + "proj_in") + w[pre + "pos_embed_scale"] * table
        cp = cond[perm]
        if arch == "prose":
            ahead = torch.cat([cp[1:], torch.zeros_like(cp[:1])])
            cemb = lin(F.gelu(lin(torch.cat([cp, ahead], -1), pre + "proj_cond.0")), pre + "proj_cond.2")
        else:
            cemb = lin(cp, pre + "proj_cond")
        for layer in range(n_layers):
            p = f"{pre}attn_blocks.{layer}."
            if arch == "prose":
                u = u + gate(cemb, p + "mha.") * attention_block(adaln(u, cemb, p + "mha."), p + "mha.mha.")
                pq = adaln(u, cemb, p + "transition.") @ w[p + "transition.transition.swish_linear.0.weight"].T
                val, gt = pq.chunk(2, dim=-1)
                t = (F.silu(gt) * val) @ w[p + "transition.transition.linear_out.weight"].T
                u = u + gate(cemb, p + "transition.") * t
            else:
                u = attention_block(u + cemb, p)
        o = lin(u, pre + "proj_out")
        o = torch.cat([torch.zeros_like(o[:, :1]), o[:, :-1]], dim=1)
        a, s = o[..., :3], o[..., 3:]
        h = ((xin - s) * torch.exp(-a))[:, torch.argsort(perm)]
        logdet = logdet - a.sum((1, 2))
    return -0.5 * (h**2).sum((1, 2)) - 1.5 * n * math.log(2 * math.pi) + logdet


SMALL = dict(c=128, blocks=3, layers=2)  # heads of 64 as published: 2 heads
SMALL_CONFIG = {"channels": 128, "blocks": 3, "layers_per_block": 2}
METHODS = {"prose": Prose, "tarflow-transferable": TransferableTarFlow}


@pytest.mark.parametrize("method", METHODS)
def test_the_published_layout_maps_onto_the_paper_model(method):
    """Every published key of the full-size file has a model key of the same shape, and the other way round."""
    arch = "prose" if method == "prose" else "tarflow"
    with torch.device("meta"):
        net = build_net(PAPER_CONFIGS[method])
    shapes = published_layout(arch, 384, 8, 8)
    assert len(shapes) == (2134 if arch == "prose" else 1094)  # spec 4.7's state-dict entries
    layout = LAYOUTS[method]
    mapped = {layout.module_key(k): v for k, v in shapes.items() if layout.module_key(k) is not None}
    assert mapped == {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert len(shapes) - len(mapped) == 8  # only the causal masks are dropped


@pytest.mark.parametrize("method", METHODS)
def test_strict_load_gives_the_log_q_of_a_plain_torch_computation(method):
    arch = "prose" if method == "prose" else "tarflow"
    state = random_state(published_layout(arch, **SMALL))
    net = build_net(PAPER_CONFIGS[method].override(SMALL_CONFIG)).eval()
    load_published_state(net, state, LAYOUTS[method])
    (system,) = peptides("WAD")
    enc, orders, mask = batch_inputs([system])
    x = torch.randn(3, system.n_atoms, 3, generator=torch.Generator().manual_seed(1))
    expected = reference_log_prob(state, arch, x, enc, orders[0], heads=2)
    with torch.no_grad():
        got = net.log_prob(x, net.context(enc, orders, mask))
    assert torch.isfinite(expected).all() and expected.std() > 1
    assert torch.allclose(got.double(), expected, atol=2e-3, rtol=1e-5)


class StoreContext(RunContext):
    pass


@pytest.mark.parametrize("method", METHODS)
def test_the_published_file_loads_through_the_weights_store_into_the_method(tmp_path, method):
    arch = "prose" if method == "prose" else "tarflow"
    name = f"{arch}_up_to_8aa"
    spec = published(name)
    assert (spec.hub_repo, spec.filename, spec.method) == (
        "transferable-samplers/model-weights", f"transferable/{name}.pth", method)
    state = random_state(published_layout(arch, **SMALL), seed=5)
    download = tmp_path / "download" / "transferable"
    download.mkdir(parents=True)
    torch.save(state, download / f"{name}.pth")
    store = WeightsStore(tmp_path / "weights")
    import_published(name, tmp_path / "download", store)
    assert published_file(name, store).is_file()

    task = get_task("2AA")
    ctx = StoreContext(seed=0, tier="paper", budget=10, task=task, systems=task.systems[:1], weights=store)
    m = METHODS[method](**SMALL_CONFIG)
    m.configure(task, "paper")
    assert m.cfg.weights == "published"
    m.setup(task, ctx)
    system = task.systems[0].build()
    enc, orders, _ = batch_inputs([system])
    x_nm = 0.35 * torch.randn(4, system.n_atoms, 3, generator=torch.Generator().manual_seed(2))
    assert m.source_facts(system, ctx).coordinate_scale_nm == 0.35
    expected = reference_log_prob(state, arch, x_nm / 0.35, enc, orders[0], 2) - 3 * system.n_atoms * math.log(0.35)
    got = m.log_q(system, x_nm, ctx).detach()
    assert torch.allclose(got.double(), expected, atol=2e-3, rtol=1e-5)
    assert m.diagnostics(system, ctx)["published"] == name


@pytest.mark.parametrize("damage", ["missing", "unexpected", "shape", "prefix", "mask"])
def test_loading_is_strict(damage):
    state = random_state(published_layout("prose", 64, 2, 1))
    net = build_net(PAPER_CONFIGS["prose"].override({"channels": 64, "blocks": 2, "layers_per_block": 1}))
    load_published_state(net, dict(state), LAYOUTS["prose"])
    if damage == "missing":
        del state["net.blocks.1.attn_blocks.0.transition.transition.linear_out.weight"]
    elif damage == "unexpected":
        state["net.blocks.0.proj_cond.weight"] = torch.ones(64, 64)
    elif damage == "shape":
        state["net.cond_embed.atom_embed.weight"] = torch.zeros(64, 64)
    elif damage == "prefix":
        state["teacher.blocks.0.pos_embed_scale"] = torch.zeros(1)
    else:
        state["net.blocks.1.attn_mask"] = torch.ones(100, 100).tril()  # a model of another capacity
    with pytest.raises(WeightsError):
        load_published_state(net, state, LAYOUTS["prose"])
