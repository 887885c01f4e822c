"""PSR / DSR against the 2014 paper's numerical example, direct formulas and Monte-Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mixbot.ml.dsr import (
    deflated_sharpe,
    deflated_sharpe_of_trials,
    expected_max_sharpe,
    probabilistic_sharpe,
    sharpe_moments,
)


def _phi(x: float) -> float:
    """Standard normal CDF written with math.erf (independent of statistics.NormalDist)."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def test_paper_numerical_example() -> None:
    # Bailey & Lopez de Prado (2014), "The Deflated Sharpe Ratio", section "A numerical
    # example": N = 100 trials, V[SR_n] = 1/2 annualised, T = 1,250 daily observations
    # (5 years of 250 days), best annualised SR 2.5, skewness -3, kurtosis 10:
    # SR0 = 0.1132 (non-annualised) and DSR = 0.9004.
    days = 250
    sr0 = expected_max_sharpe(100, 0.5 / days)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    dsr = probabilistic_sharpe(2.5 / math.sqrt(days), sr0, 1250, skew=-3.0, kurtosis=10.0)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


def test_psr_direct_formula() -> None:
    sr, bench, n, g3, g4 = 0.08, 0.02, 500, -0.7, 6.0
    z = (sr - bench) * math.sqrt(n - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    assert probabilistic_sharpe(sr, bench, n, g3, g4) == pytest.approx(_phi(z), abs=1e-12)
    assert probabilistic_sharpe(0.05, 0.05, 100) == pytest.approx(0.5)


def test_psr_is_calibrated_under_the_null_monte_carlo() -> None:
    # true per-observation SR = 0.1 (normal returns): PSR(0.1) of each sample is ~ U(0, 1),
    # so about 5 % of samples exceed 0.95 and about half exceed 0.5.
    rng = np.random.default_rng(11)
    x = rng.normal(0.1, 1.0, size=(4000, 250))
    psr = []
    for row in x:
        m = sharpe_moments(row)
        assert m is not None
        psr.append(probabilistic_sharpe(m["sr"], 0.1, m["n_obs"], m["skew"], m["kurtosis"]))
    p = np.array(psr)
    assert 0.04 <= (p > 0.95).mean() <= 0.06
    assert 0.47 <= (p > 0.5).mean() <= 0.53


def test_expected_max_sharpe_close_to_monte_carlo_max() -> None:
    # SR0 approximates E[max of N independent N(0, V) Sharpe estimates]: compare with a
    # simulated maximum of 100 standard normals (E ~ 2.51; the paper's approximation 2.53)
    rng = np.random.default_rng(5)
    mc = rng.standard_normal((20000, 100)).max(axis=1).mean()
    assert expected_max_sharpe(100, 1.0) == pytest.approx(mc, rel=0.02)
    assert expected_max_sharpe(1, 4.0) == 0.0
    assert expected_max_sharpe(10, 0.0) == 0.0


def test_sharpe_moments_of_a_known_sample() -> None:
    r = np.array([0.01, -0.02, 0.03, 0.0, 0.05])
    m = sharpe_moments(r)
    assert m is not None
    mu, sd = r.mean(), r.std(ddof=1)
    d = r - mu
    assert m["sr"] == pytest.approx(mu / sd)
    assert m["skew"] == pytest.approx((d**3).mean() / (d**2).mean() ** 1.5)
    assert m["kurtosis"] == pytest.approx((d**4).mean() / (d**2).mean() ** 2)
    assert m["n_obs"] == 5
    assert sharpe_moments([0.01]) is None and sharpe_moments([0.01, 0.01]) is None


def test_deflated_sharpe_dict_and_edge_cases() -> None:
    out = deflated_sharpe(0.1, [0.1, 0.05, -0.02, 0.0], n_obs=400, skew=0.0, kurtosis=3.0)
    var = np.var([0.1, 0.05, -0.02, 0.0], ddof=1)
    assert out["sr_variance"] == pytest.approx(var)
    assert out["sr0"] == pytest.approx(expected_max_sharpe(4, var))
    assert out["dsr"] < out["psr_zero"] and out["n_trials"] == 4 and out["reason"] is None
    # one trial: no selection, DSR = PSR(0)
    one = deflated_sharpe(0.1, [0.1], n_obs=400)
    assert one["sr0"] == 0.0 and one["dsr"] == pytest.approx(
        _phi(0.1 * math.sqrt(399) / math.sqrt(1 + 0.5 * 0.01))
    )
    # zero variance of the trials: SR0 = 0
    assert deflated_sharpe(0.1, [0.1, 0.1, 0.1], n_obs=400)["sr0"] == 0.0
    # trials without a Sharpe count in N; fewer than 2 Sharpe values: no variance, no DSR
    few = deflated_sharpe(0.1, [0.1], n_obs=400, n_trials=5)
    assert few["dsr"] is None and "need 2" in few["reason"]
    more = deflated_sharpe(0.1, [0.1, 0.0], n_obs=400, n_trials=20)
    assert more["sr0"] == pytest.approx(expected_max_sharpe(20, np.var([0.1, 0.0], ddof=1)))
    # too few observations
    short = deflated_sharpe(0.1, [0.1, 0.0], n_obs=1)
    assert short["dsr"] is None and "2 observations" in short["reason"]
    with pytest.raises(ValueError):
        deflated_sharpe(0.1, [0.1, 0.2], n_obs=100, n_trials=1)


def test_deflated_sharpe_of_trials_annualised_inputs() -> None:
    rng = np.random.default_rng(2)
    best = rng.normal(0.001, 0.01, 500)
    m = sharpe_moments(best)
    assert m is not None
    ann = [m["sr"] * math.sqrt(252), 0.5, -0.3, None]
    out = deflated_sharpe_of_trials(best, ann, 252)
    per_obs = [a / math.sqrt(252) for a in ann if a is not None]
    ref = deflated_sharpe(m["sr"], per_obs, 500, m["skew"], m["kurtosis"], n_trials=4)
    assert out["dsr"] == pytest.approx(ref["dsr"]) and out["n_trials"] == 4
    assert out["sr_best_annualised"] == pytest.approx(ann[0])
    assert out["sr0_annualised"] == pytest.approx(ref["sr0"] * math.sqrt(252))
    empty = deflated_sharpe_of_trials([0.0, 0.0], [None, None], 252)
    assert empty["dsr"] is None and empty["reason"]
