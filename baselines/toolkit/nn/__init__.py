"""Transformer parts shared by the method families (one concern per module)."""

from baselines.toolkit.nn.attention import KVCache, MultiHeadAttention
from baselines.toolkit.nn.blocks import TransformerBlock, init_normal
from baselines.toolkit.nn.embeddings import (
    PROSE_EMBEDDER, ROBIN_EMBEDDER, ConditionalEmbedder, LearnedPositions, RotaryEmbedding, SinusoidalPositions, sinusoid,
    sinusoidal_table,
)
from baselines.toolkit.nn.mlp import GELUMLP, FusedSwiGLU, SwiGLU, make_mlp
from baselines.toolkit.nn.norms import AdaLN, LayerNorm32, OutputGate, RMSNorm, make_norm

__all__ = [
    "AdaLN", "ConditionalEmbedder", "FusedSwiGLU", "GELUMLP", "KVCache", "LayerNorm32", "LearnedPositions", "MultiHeadAttention",
    "OutputGate", "PROSE_EMBEDDER", "RMSNorm", "ROBIN_EMBEDDER", "RotaryEmbedding", "SinusoidalPositions", "SwiGLU",
    "TransformerBlock", "init_normal", "make_mlp", "make_norm", "sinusoid", "sinusoidal_table",
]
