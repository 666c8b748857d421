"""Chirality centres, detection, mirror fix and uncorrectable (mixed-handedness) samples."""

from __future__ import annotations

import numpy as np

from benchmark.metrics import apply_chirality_fix, chiral_centres, chirality_signs
from benchmark.systems import AMBER14_OBC1, ZWITTERION, SystemSpec


def _aa():
    return SystemSpec("AA", "AA", ZWITTERION, AMBER14_OBC1).build()


def test_aa_centres_are_the_two_alpha_carbons_with_published_neighbours():
    system = _aa()
    centres = chiral_centres(system)
    # published example (tLEaP order): centres [4, 10, 6, 5] and [14, 20, 16, 15]. Neighbour order only
    # fixes the sign convention, which cancels against the reference frame; the atoms must agree.
    assert centres[:, 0].tolist() == [4, 14]
    assert [sorted(c[1:]) for c in centres.tolist()] == [[5, 6, 10], [15, 16, 20]]
    assert [system.atom_names[i] for i in centres[:, 0]] == ["CA", "CA"]


def test_mirror_is_detected_and_fixed():
    system = _aa()
    centres = chiral_centres(system)
    x = system.minimized_positions[None].repeat(4, axis=0)
    ref = chirality_signs(x[:1], centres)[0]
    x[1] *= -1.0
    x[3] *= -1.0
    result = apply_chirality_fix(x, ref, centres)
    assert result.changed.tolist() == [False, True, False, True]
    assert result.correct_rate == 0.5 and result.uncorrectable_rate == 0.0
    assert (chirality_signs(result.positions, centres) == ref).all()
    np.testing.assert_allclose(result.positions[1], system.minimized_positions)
    off = apply_chirality_fix(x, ref, centres, fix=False)
    np.testing.assert_array_equal(off.positions, x)
    assert off.correct_rate == 0.5


def test_mixed_handedness_is_uncorrectable():
    system = _aa()
    centres = chiral_centres(system)
    x = system.minimized_positions[None].repeat(2, axis=0)
    ref = chirality_signs(x[:1], centres)[0]
    centre, a, b, _ = centres[0]
    # swap two substituents of the first centre: only that centre changes handedness
    x[1, [a, b]] = x[1, [b, a]]
    result = apply_chirality_fix(x, ref, centres)
    assert result.changed.tolist() == [False, True]
    assert result.uncorrectable.tolist() == [False, True]
