"""Published Prose and transferable TarFlow checkpoints (specs/flows-and-protocol.md 5.1, 5.2) loaded
into ``TransferableFlow``.

``transferable/prose_up_to_8aa.pth`` and ``transferable/tarflow_up_to_8aa.pth`` of the hub repository
``transferable-samplers/model-weights`` are plain state dicts of the Lightning module: every key
starts with ``net.``; each block stores its ``attn_mask`` (178 x 178 float lower-triangular ones),
checked against the model's capacity and dropped (bgbench computes causality); the sinusoidal
position table is not stored. bgbench's modules carry the published names except where the
renames below say (toolkit attention/MLP names, the ``inner`` module of a gated sub-layer, the
learned position scale living on the position module). Loading is strict (``load_published_state``
of the single-system TarFlow, shared).

Not checked here (spec 7): that the published atom order of a peptide is bgbench's topology order.
The published standardization scale is 0.35 nm (spec 1.2.2).
"""

from __future__ import annotations

from benchmark.weights import Layout

PREFIX = "net."
PUBLISHED_SIGMA_NM = 0.35  # the up-to-8AA ``precomputed_std`` the published models were trained with
PUBLISHED_FILES = {"prose": "prose_up_to_8aa", "tarflow-transferable": "tarflow_up_to_8aa"}

_COMMON = (
    (r"^(blocks\.\d+)\.pos_embed_scale$", r"\1.pos_embed.scale"),
)


def _attention(prefix: str, inner: str) -> tuple[tuple[str, str], ...]:
    """Renames of the published attention block at ``prefix`` (attention.*, mlp.*) to the toolkit's ``inner``."""
    return (
        (rf"\.{prefix}attention\.norm\.", f".{inner}norm1."),
        (rf"\.{prefix}attention\.qkv\.", f".{inner}attn.qkv."),
        (rf"\.{prefix}attention\.proj\.", f".{inner}attn.out_proj."),
        (rf"\.{prefix}attention\.q_layer_norm\.", f".{inner}attn.q_norm."),
        (rf"\.{prefix}attention\.k_layer_norm\.", f".{inner}attn.k_norm."),
        (rf"\.{prefix}mlp\.norm\.", f".{inner}norm2."),
        (rf"\.{prefix}mlp\.main\.0\.", f".{inner}ff.main.0."),
        (rf"\.{prefix}mlp\.main\.2\.", f".{inner}ff.main.3."),  # no Dropout module in the published MLP
    )


PROSE_LAYOUT = Layout(
    name="prose (flows-and-protocol.md 5.1)",
    strip_prefix=PREFIX,
    renames=_COMMON + _attention(r"mha\.mha\.", "mha.inner.") + (
        (r"\.transition\.transition\.swish_linear\.0\.", ".transition.inner.w_in."),
        (r"\.transition\.transition\.linear_out\.", ".transition.inner.w_out."),
    ),
    drop=(r"blocks\.\d+\.attn_mask",),
)

TARFLOW_TRANSFERABLE_LAYOUT = Layout(
    name="transferable tarflow (flows-and-protocol.md 5.2)",
    strip_prefix=PREFIX,
    renames=_COMMON + _attention("", ""),
    drop=(r"blocks\.\d+\.attn_mask",),
)

LAYOUTS = {"prose": PROSE_LAYOUT, "tarflow-transferable": TARFLOW_TRANSFERABLE_LAYOUT}

__all__ = ["LAYOUTS", "PREFIX", "PROSE_LAYOUT", "PUBLISHED_FILES", "PUBLISHED_SIGMA_NM", "TARFLOW_TRANSFERABLE_LAYOUT"]
