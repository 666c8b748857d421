"""The shared model toolkit: what every Boltzmann-generator family here builds on.

    nn/norms.py       RMSNorm, float32 LayerNorm, adaptive LayerNorm and output gate (Prose)
    nn/mlp.py         SwiGLU (ARBG) and GELU MLP
    nn/attention.py   multi-head attention (fused qkv, q/k norm, causal/bidirectional, padding masks,
                      rotary) and the KV cache (append, select after resampling, grow, truncate)
    nn/embeddings.py  sinusoids (configurable base), sinusoidal/learned/rotary positions, ConditionalEmbedder
    nn/blocks.py      the pre-norm transformer block; ARBG's normal init
    coordinates.py    centring, scalar standardization with its Jacobian, sigma fit, Haar rotations,
                      CoM noise, Kabsch alignment, padding of variable-length peptides
    config.py         TrainingConfig: the training fields every method config inherits
    optim.py          AdamW / Muon; schedules.py the one-cycle warm-up + cosine; ema.py weight averaging
    data.py           batch sources: one system's frames, a corpus of mixed lengths (padded, masked)
    training.py       the training loop (resumable checkpoints in the weights store) and train_or_load

A new method family writes its model from these parts, a ``TrainingConfig`` subclass with presets,
a loss function and a thin ``ProposalMethod`` adapter (see baselines/arbg/ for the pattern).
"""
