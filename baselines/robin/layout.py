"""The released ROBIN checkpoint's state-dict layout (specs/autoregressive.md 9.2-9.3, 11) mapped onto bgbench's network.

The Lightning container keeps the network under ``state_dict`` with the prefix ``net.``. Module names
are ARBG's own (baselines/arbg/transformer.py follows the reference tree) except three: the SwiGLU
sits at ``ff.net.0.{w1,w2}`` with the output projection at ``ff.net.2`` (``ff.w1``, ``ff.w2``,
``ff.w3`` here), and the conditioning MLP is ``cond_embed.proj.{0,2}`` (``cond_embed.mlp.{0,2}``
here). Dropped, because bgbench recomputes them: the sinusoidal table ``pos_embed.pe`` and the
16 causal masks ``blocks.{i}.attn.causal_mask``. ``load_into`` then loads strictly.
"""

from __future__ import annotations

from benchmark.weights import Layout

ROBIN_LAYOUT = Layout(
    name="robin (specs/autoregressive.md 9.3)",
    strip_prefix="net.",
    renames=(
        (r"^(blocks\.\d+\.ff)\.net\.0\.(w[12])\.", r"\1.\2."),
        (r"^(blocks\.\d+\.ff)\.net\.2\.", r"\1.w3."),
        (r"^cond_embed\.proj\.", "cond_embed.mlp."),
    ),
    drop=(r"pos_embed\.pe", r"blocks\.\d+\.attn\.causal_mask"),
)

__all__ = ["ROBIN_LAYOUT"]
