"""The published SBG SMC settings of every single-system task (specs/flows-and-protocol.md 3.5, 8).

The reference eval configs ``single_system/eval/tarflow_{SEQ}_ula`` differ from the transferable
Prose preset (``PRESETS["smc"]``): ESS threshold 0.5 instead of 1.0, multinomial instead of
systematic resampling, a per-system Langevin scale eps and number of annealing steps K, and a
per-system cut-off on the target energy (kT) of the initial proposals. All keep the 0.2 % log-weight
filter, ULA without Metropolis and the CoM adjustment (which, like the coordinate scale = the
system's standardization sigma, comes from the method's source facts, not from here).

    task       sequence      eps    K    energy cut-off (kT)
    ALDP       Ace-A-Nme     1e-5   100   10
    AL3        AAA           1e-5   100  -120
    AL4        Ace-AAA-Nme   1e-6   100   50
    AL6        AAAAAA        1e-6   100  -20
    CHIGNOLIN  GYDPETGTWG    1e-5   500  -300

The published SBG runs used 10^4 particles, about 10^6 target evaluations (5x10^6 for chignolin);
under bgbench's equal budget SMC affords budget // (K - 1) particles (the SMC record says how many).
"""

from __future__ import annotations

from typing import Any

SBG_COMMON: dict[str, Any] = {"num_annealing_steps": 100, "init_eps": 1e-5, "ess_threshold": 0.5,
                              "resampling": "multinomial", "use_metropolis": False, "adaptive_step_size": False,
                              "logw_quantile_filter": 0.002}

SBG_SMC: dict[str, dict[str, Any]] = {
    "ALDP": {**SBG_COMMON, "energy_cutoff": 10.0},
    "AL3": {**SBG_COMMON, "energy_cutoff": -120.0},
    "AL4": {**SBG_COMMON, "init_eps": 1e-6, "energy_cutoff": 50.0},
    "AL6": {**SBG_COMMON, "init_eps": 1e-6, "energy_cutoff": -20.0},
    "CHIGNOLIN": {**SBG_COMMON, "num_annealing_steps": 500, "energy_cutoff": -300.0},
}

__all__ = ["SBG_COMMON", "SBG_SMC"]
