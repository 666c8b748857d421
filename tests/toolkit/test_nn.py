"""Transformer parts against brute-force computations on tiny dimensions (float64 where it matters)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from baselines.toolkit.nn import (
    PROSE_EMBEDDER, ROBIN_EMBEDDER, AdaLN, ConditionalEmbedder, GELUMLP, KVCache, LayerNorm32, MultiHeadAttention,
    OutputGate, RMSNorm, RotaryEmbedding, SwiGLU, TransformerBlock, sinusoid, sinusoidal_table,
)

G = torch.Generator().manual_seed(0)


def randn(*shape, dtype=torch.float64):
    return torch.randn(*shape, generator=G, dtype=dtype)


def test_rms_norm_is_the_closed_form():
    x = randn(4, 7)
    n = RMSNorm(7).double()
    with torch.no_grad():
        n.weight.copy_(randn(7))
    want = torch.from_numpy(x.numpy() / np.sqrt((x.numpy() ** 2).mean(-1, keepdims=True) + 1e-6)) * n.weight.detach()
    assert torch.allclose(n(x), want, atol=1e-12)


def test_layer_norm_runs_in_float32_and_returns_the_input_dtype():
    x = randn(3, 8).to(torch.bfloat16)
    ln = LayerNorm32(8)
    y = ln(x)
    assert y.dtype == torch.bfloat16
    x64 = x.double()
    brute = (x64 - x64.mean(-1, keepdim=True)) / torch.sqrt(x64.var(-1, unbiased=False, keepdim=True) + 1e-5)
    assert torch.allclose(y.double(), brute, atol=2e-2)  # bf16 output rounding only
    assert torch.allclose(ln(x.float()).double(), brute, atol=1e-5)


def test_adaptive_layer_norm_and_gate_match_their_formulas():
    h, c, mask = randn(2, 5, 6).float(), randn(2, 5, 4).float(), torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]).bool()
    ada = AdaLN(6, 4)
    ln = lambda t, w=None, b=None: F.layer_norm(t, (t.shape[-1],), w, b, 1e-5)  # noqa: E731
    cn = ln(c, ada.norm_cond.weight, ada.norm_cond.bias)
    want = ln(h) * torch.sigmoid(cn @ ada.to_gamma[0].weight.T + ada.to_gamma[0].bias) + cn @ ada.to_beta.weight.T
    got = ada(h, c, mask)
    assert torch.allclose(got, want * mask[..., None], atol=1e-6)
    assert (got[0, 3:] == 0).all()
    gate = OutputGate(6, 4)
    assert torch.allclose(gate(h, c), h * torch.sigmoid(torch.tensor(-2.0)), atol=1e-7)  # zero weight, bias -2


def test_swiglu_and_gelu_mlp_forms():
    ff = SwiGLU(12, expansion=4).double()
    assert ff.w1.weight.shape == (32, 12) and ff.w1.bias is None and ff.w2.bias is None and ff.w3.bias is not None
    x = randn(3, 12)
    want = (F.silu(x @ ff.w1.weight.T) * (x @ ff.w2.weight.T)) @ ff.w3.weight.T + ff.w3.bias
    assert torch.allclose(ff(x), want, atol=1e-12)
    mlp = GELUMLP(12, hidden=20, out=5).double()
    want = F.gelu(x @ mlp.main[0].weight.T + mlp.main[0].bias) @ mlp.main[3].weight.T + mlp.main[3].bias
    assert torch.allclose(mlp(x), want, atol=1e-12)


def brute_attention(attn: MultiHeadAttention, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Loops over batch, heads and queries; allowed (B, S, S) True where query i may see key j."""
    b, s, _ = x.shape
    H, d = attn.heads, attn.head_dim
    qkv = x @ attn.qkv.weight.T + (attn.qkv.bias if attn.qkv.bias is not None else 0)
    q, k, v = qkv[..., : H * d], qkv[..., H * d : 2 * H * d], qkv[..., 2 * H * d :]
    if attn.q_norm is not None:
        q = F.layer_norm(q, (H * d,), attn.q_norm.weight.double(), attn.q_norm.bias.double())
        k = F.layer_norm(k, (H * d,), attn.k_norm.weight.double(), attn.k_norm.bias.double())
    out = torch.zeros(b, s, H * d, dtype=x.dtype)
    for bi in range(b):
        for h in range(H):
            sl = slice(h * d, (h + 1) * d)
            for i in range(s):
                keys = [j for j in range(s) if allowed[bi, i, j]]
                if not keys:
                    continue
                scores = torch.stack([q[bi, i, sl] @ k[bi, j, sl] for j in keys]) / math.sqrt(d)
                w = torch.softmax(scores, 0)
                out[bi, i, sl] = sum(wj * v[bi, j, sl] for wj, j in zip(w, keys))
    return out @ attn.out_proj.weight.T + (attn.out_proj.bias if attn.out_proj.bias is not None else 0)


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("prose_style", [False, True])
def test_attention_equals_brute_force(causal, prose_style):
    torch.manual_seed(1)
    opts = dict(qkv_bias=True, out_bias=True, qk_norm="layer") if prose_style else {}
    attn = MultiHeadAttention(8, 2, 3, causal=causal, **opts).double()
    x = randn(2, 5, 8)
    allowed = torch.ones(2, 5, 5, dtype=torch.bool)
    if causal:
        allowed = allowed.tril()
    assert torch.allclose(attn(x), brute_attention(attn, x, allowed), atol=1e-10)


@pytest.mark.parametrize("causal", [True, False])
def test_padding_masks_reproduce_the_unpadded_result(causal):
    torch.manual_seed(2)
    attn = MultiHeadAttention(8, 2, 4, causal=causal, qkv_bias=True, out_bias=True).double()
    short, long_ = randn(1, 3, 8), randn(1, 5, 8)
    padded = torch.cat([torch.cat([short, torch.zeros(1, 2, 8, dtype=torch.float64)], 1), long_])
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    by_keys = attn(padded, key_mask=mask)
    assert torch.allclose(by_keys[0, :3], attn(short)[0], atol=1e-12)
    assert torch.allclose(by_keys[1], attn(long_)[0], atol=1e-12)
    # Prose-style query-row mask: padding queries give zero attention output (here: only the output bias)
    by_rows = attn(padded, query_mask=mask)
    assert torch.allclose(by_rows[1], attn(long_)[0], atol=1e-12)
    assert torch.allclose(by_rows[0, 3:], attn.out_proj.bias.detach().expand(2, 8), atol=1e-12)
    if causal:  # causal: real queries never see the padding at the end
        assert torch.allclose(by_rows[0, :3], attn(short)[0], atol=1e-12)
    no_bias = MultiHeadAttention(8, 2, 4, causal=causal).double()
    assert (no_bias(padded, query_mask=mask)[0, 3:] == 0).all()
    allowed = torch.ones(2, 5, 5, dtype=torch.bool).tril() if causal else torch.ones(2, 5, 5, dtype=torch.bool)
    allowed = allowed & mask[:, :, None]
    assert torch.allclose(no_bias(padded, query_mask=mask), brute_attention(no_bias, padded, allowed), atol=1e-10)


def test_rotary_scores_depend_on_relative_position_only():
    rot = RotaryEmbedding(8, base=100.0).double()
    q, k = randn(1, 8), randn(1, 8)
    p = lambda i: torch.tensor([i])  # noqa: E731
    s = lambda m, n: float(rot(q, p(m)) @ rot(k, p(n)).T)  # noqa: E731
    assert s(5, 2) == pytest.approx(s(9, 6), abs=1e-10) and s(5, 2) != pytest.approx(s(5, 3), abs=1e-6)
    assert torch.allclose(rot(q, p(0)), q) and rot(q, p(7)).norm() == pytest.approx(float(q.norm()))


class TinyDecoder(torch.nn.Module):
    """Two causal blocks over embedded tokens: enough to test decoding with a cache."""

    def __init__(self, rotary: bool = False):
        super().__init__()
        self.embed = torch.nn.Embedding(11, 16)
        extra = {"rotary": RotaryEmbedding(4)} if rotary else {}
        self.blocks = torch.nn.ModuleList(TransformerBlock(16, 2, 4, **extra) for _ in range(2))

    def forward(self, tokens, cache: KVCache | None = None):
        h = self.embed(tokens)
        for i, b in enumerate(self.blocks):
            h = b(h, cache, i)
        if cache is not None:
            cache.advance(tokens.shape[1])
        return h

    def cache(self, batch, max_len):
        return KVCache(2, batch, 2, max_len, 4, dtype=torch.float64)


@pytest.mark.parametrize("rotary", [False, True])
def test_kv_cache_decoding_equals_the_full_pass(rotary):
    torch.manual_seed(3)
    net = TinyDecoder(rotary).double().eval()
    tokens = torch.randint(11, (3, 9), generator=G)
    full = net(tokens)
    cache = net.cache(3, max_len=2)  # grows on the way
    steps = [net(tokens[:, :4], cache)] + [net(tokens[:, j : j + 1], cache) for j in range(4, 9)]
    assert cache.length == 9 and cache.max_len >= 9
    assert torch.allclose(torch.cat(steps, 1), full, atol=1e-12)


def test_cache_select_truncate_and_grow_follow_the_sequences():
    torch.manual_seed(4)
    net = TinyDecoder().double().eval()
    tokens = torch.randint(11, (3, 8), generator=G)
    cache = net.cache(3, max_len=8)
    net(tokens[:, :5], cache)
    idx = torch.tensor([2, 2, 0, 1])  # resampling: repeats and a new batch size
    cache.select(idx)
    picked = tokens[idx]
    out = net(picked[:, 5:], cache)
    assert torch.allclose(out, net(picked)[:, 5:], atol=1e-12)
    cache.truncate(6)  # rewind and decode other tokens from position 6
    other = torch.randint(11, (4, 3), generator=G)
    out = net(other, cache)
    assert torch.allclose(out, net(torch.cat([picked[:, :6], other], 1))[:, 6:], atol=1e-12)
    assert cache.length == 9 and cache.max_len >= 9
    cache.grow(32)
    assert cache.max_len == 32
    longer = torch.cat([picked[:, :6], other, other[:, :1]], 1)
    assert torch.allclose(net(other[:, :1], cache), net(longer)[:, 9:], atol=1e-12)


def test_sinusoids_match_the_spec_formula_and_base():
    table = sinusoidal_table(7, 6, base=10000.0).double()
    for p in range(7):
        for i in range(3):
            w = math.exp(-2 * i * math.log(10000.0) / 6)
            assert table[p, 2 * i] == pytest.approx(math.sin(p * w), abs=1e-6)
            assert table[p, 2 * i + 1] == pytest.approx(math.cos(p * w), abs=1e-6)
    v = torch.tensor([[3, 5]])
    assert sinusoid(v, 6, 1000.0)[0, 1, 2] == pytest.approx(math.sin(5 * math.exp(-2 * math.log(1000.0) / 6)), abs=1e-6)
    assert torch.equal(sinusoid(torch.arange(7), 6), sinusoidal_table(7, 6))


def test_conditional_embedder_presets_match_the_published_sizes():
    # Prose's embedder at C = 384 has 811,776 parameters (spec flows 4.7)
    prose = ConditionalEmbedder(384, **PROSE_EMBEDDER)
    assert sum(p.numel() for p in prose.parameters()) == 811_776
    C = 768  # ROBIN: tables 64 / 32, MLP 5C -> C -> C (spec autoregressive 3.3 formula)
    robin = ConditionalEmbedder(C, **ROBIN_EMBEDDER)
    assert sum(p.numel() for p in robin.parameters()) == 64 * C + 32 * C + (5 * C * C + C) + (C * C + C)


def test_conditional_embedder_concatenates_features_in_order_and_masks():
    torch.manual_seed(5)
    emb = ConditionalEmbedder(8, features=("atom_type", "aa_type", "aa_pos", "seq_len", "atom_index"), atom_vocab=64,
                              residue_vocab=32, base=10000.0, mask_output=True).double()
    enc = {"atom_type": torch.tensor([[37, 18, 2, 0]]), "aa_type": torch.tensor([[1, 1, 1, 0]]),
           "aa_pos": torch.tensor([[1, 1, 2, 0]]), "atom_index": torch.tensor([[0, 1, 2, 0]]), "seq_len": torch.tensor([2])}
    mask = torch.tensor([[True, True, True, False]])
    got = emb(enc, mask)

    def sin(v):
        return torch.tensor([[math.sin(v * math.exp(-2 * i * math.log(1e4) / 8)) if j == 0 else
                              math.cos(v * math.exp(-2 * i * math.log(1e4) / 8)) for i in range(4) for j in (0, 1)]],
                            dtype=torch.float64)[0]

    for a in range(3):
        feats = torch.cat([emb.atom_embed.weight[enc["atom_type"][0, a]], emb.residue_embed.weight[enc["aa_type"][0, a]],
                           sin(int(enc["aa_pos"][0, a])), sin(2), sin(a)])
        want = emb.mlp[2](F.gelu(emb.mlp[0](feats)))
        assert torch.allclose(got[0, a], want, atol=1e-6)
    assert (got[0, 3] == 0).all()
