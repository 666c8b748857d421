"""Coordinate transforms: rotations, sigma, standardization, alignment, CoM noise, padding."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from baselines.toolkit.coordinates import (
    Standardizer, align_to, augment, centre, com_noise, fit_sigma, pad_encodings, pad_permutation, pad_positions,
    random_rotations,
)
from benchmark.systems import AMBER14_OBC1, ZWITTERION, SystemSpec
from benchmark.systems.encodings import atom_encodings


def test_random_rotations_are_proper_and_haar_centred():
    r = random_rotations(20_000, torch.Generator().manual_seed(0), torch.float64)
    eye = torch.eye(3, dtype=torch.float64).expand_as(r)
    assert torch.allclose(r @ r.transpose(1, 2), eye, atol=1e-10)
    assert torch.allclose(torch.linalg.det(r), torch.ones(20_000, dtype=torch.float64))
    assert r.mean(0).abs().max() < 0.03  # E[R] = 0 under the Haar measure on SO(3)
    # Haar: the rotation angle has density (1 - cos t) / pi on [0, pi], so E[trace R] = 0 and E[cos t] = -1/2
    cos_t = (r.diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2
    assert float(cos_t.mean()) == pytest.approx(-0.5, abs=0.02)


def test_sigma_is_the_bessel_std_of_centred_frames_pooled_over_peptides():
    x = torch.randn(30, 5, 3, generator=torch.Generator().manual_seed(0)) + 4.0
    xn = x.numpy().astype(np.float64)
    want = np.std(xn - xn.mean(axis=1, keepdims=True), ddof=1)
    assert fit_sigma(x) == pytest.approx(want, rel=1e-12)
    y = np.random.default_rng(1).normal(size=(7, 9, 3))
    pooled = np.concatenate([(a - a.mean(axis=1, keepdims=True)).ravel() for a in (xn, y)])
    assert fit_sigma([x, y]) == pytest.approx(pooled.std(ddof=1), rel=1e-12)


def test_standardizer_round_trip_jacobian_and_training_view():
    perm = np.array([2, 0, 1, 3])
    std = Standardizer(perm, 0.5)
    x = torch.randn(7, 4, 3, dtype=torch.float64)
    flat = std.to_model(x)
    assert torch.allclose(flat[:, :3], x[:, 2] / 0.5)  # token atom 0 is topology atom 2
    assert torch.allclose(std.to_nm(flat), x)
    assert std.log_abs_det() == pytest.approx(-12 * math.log(0.5))
    v = std.training_view(x, torch.Generator().manual_seed(0), rotate=True, com_noise=False)
    # rotation keeps the centred distances: compare pairwise distance matrices
    a = torch.cdist(centre(x[:, perm].float()) / 0.5, centre(x[:, perm].float()) / 0.5)
    b = torch.cdist(v.view(7, 4, 3), v.view(7, 4, 3))
    assert torch.allclose(a, b, atol=1e-5)


def test_kabsch_alignment_undoes_a_known_rotation():
    ref = torch.randn(6, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    rots = random_rotations(5, torch.Generator().manual_seed(1), torch.float64)
    frames = ref[None] @ rots.transpose(1, 2) + torch.randn(5, 1, 3, dtype=torch.float64)
    assert torch.allclose(align_to(frames, ref), centre(ref)[None].expand(5, -1, -1), atol=1e-9)


def test_com_noise_has_variance_one_over_n():
    eps = com_noise(40_000, 16, torch.Generator().manual_seed(0))
    assert eps.shape == (40_000, 1, 3)
    assert float(eps.var()) == pytest.approx(1 / 16, rel=0.03)
    per_frame = com_noise(3, torch.tensor([4, 9, 16]), torch.Generator().manual_seed(0))
    raw = torch.randn(3, 1, 3, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(per_frame, raw / torch.tensor([2.0, 3.0, 4.0])[:, None, None])


def test_masked_centring_and_augmentation_match_the_unpadded_frames():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(3, 3, generator=g) + 1.0, torch.randn(5, 3, generator=g) - 2.0
    x, mask = pad_positions([a, b])
    assert x.shape == (2, 5, 3) and mask.sum(1).tolist() == [3, 5] and (x[0, 3:] == 0).all()
    c = centre(x, mask)
    assert torch.allclose(c[0, :3], centre(a), atol=1e-6) and torch.allclose(c[1], centre(b), atol=1e-6)
    assert (c[0, 3:] == 0).all()
    padded = augment(c, torch.Generator().manual_seed(5), mask=mask)
    gen = torch.Generator().manual_seed(5)  # the same draws, made by hand: rotations first, then CoM noise
    rot = random_rotations(2, gen)
    eps = torch.randn(2, 1, 3, generator=gen)
    want_a = centre(a) @ rot[0].T + eps[0] / math.sqrt(3)
    want_b = centre(b) @ rot[1].T + eps[1] / math.sqrt(5)
    assert torch.allclose(padded[0, :3], want_a, atol=1e-6) and torch.allclose(padded[1], want_b, atol=1e-6)
    assert (padded[0, 3:] == 0).all()


def test_encodings_and_permutations_pad_with_zeros_and_trailing_tokens():
    specs = [SystemSpec(s, s, ZWITTERION, AMBER14_OBC1) for s in ("AA", "GY")]
    encs = [atom_encodings(s.build()) for s in specs]
    n = [e.n_atoms for e in encs]
    length = max(n) + 2
    out = pad_encodings(encs, length)
    assert out["seq_len"].tolist() == [2, 2]
    for i, e in enumerate(encs):
        for name in ("atom_type", "aa_type", "aa_pos", "atom_index"):
            assert out[name][i, : n[i]].tolist() == getattr(e, name).tolist()
            assert (out[name][i, n[i] :] == 0).all()
    # the spec's worked example (flows 4.4): AA, 23 atoms, padded to 26 tokens
    assert out["atom_type"][0, :23].tolist() == [37, 18, 18, 18, 2, 19, 3, 20, 20, 20, 1, 46, 37, 18, 2, 19, 3, 20, 20, 20,
                                                 1, 46, 52]
    perm = np.array([0, 4, 10, 11, 12, 14, 20, 21, 22, 1, 2, 3, 5, 6, 7, 8, 9, 13, 15, 16, 17, 18, 19])
    assert pad_permutation(perm, 26).tolist() == perm.tolist() + [23, 24, 25]
    assert pad_permutation(perm[::-1], 25).tolist() == perm[::-1].tolist() + [23, 24]
    with pytest.raises(ValueError):
        pad_positions([torch.zeros(4, 3)], length=3)
