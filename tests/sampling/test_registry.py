"""make_sampler: presets carry the published settings (spec §3.5) and bad names fail clearly."""

import pytest

from benchmark.errors import UnknownNameError
from benchmark.sampling import SMCSampler, SNISSampler, make_sampler


def test_presets_match_published_configs():
    snis = make_sampler("snis")
    assert isinstance(snis, SNISSampler)
    assert snis.settings()["logw_quantile_filter"] == 0.002 and snis.settings()["resampling"] == "multinomial"
    ula = make_sampler("smc").settings()  # prose_up_to_8aa_ula
    assert (ula["init_eps"], ula["num_annealing_steps"], ula["ess_threshold"], ula["resampling"]) == (1e-5, 100, 1.0, "systematic")
    assert ula["use_metropolis"] is False and ula["logw_quantile_filter"] == 0.002
    mala = make_sampler("smc-mala")  # prose_up_to_8aa_mala
    assert isinstance(mala, SMCSampler)
    s = mala.settings()
    assert (s["init_eps"], s["num_annealing_steps"], s["use_metropolis"], s["adaptive_step_size"]) == (5e-4, 50, True, True)
    assert s["preset"] == "smc-mala" and s["evaluations_per_particle"] == 50


def test_overrides_apply_and_unknown_names_fail():
    assert make_sampler("snis", logw_quantile_filter=None, n_proposals=10).settings()["n_proposals"] == 10
    with pytest.raises(UnknownNameError, match="smc"):
        make_sampler("smcc")
    with pytest.raises(UnknownNameError, match="init_eps"):
        make_sampler("smc", eps=1e-3)
