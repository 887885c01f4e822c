"""Probabilistic and deflated Sharpe ratios: how much of a best-of-N Sharpe is luck.

Sources:

* PSR: D. H. Bailey and M. Lopez de Prado (2012), "The Sharpe Ratio Efficient Frontier",
  Journal of Risk 15(2), eq. for the probabilistic Sharpe ratio::

      PSR(SR*) = Z[ (SR^ - SR*) * sqrt(T - 1) / sqrt(1 - g3 * SR^ + (g4 - 1) / 4 * SR^2) ]

  with ``SR^`` the observed Sharpe ratio PER OBSERVATION (not annualised), ``T`` the number
  of return observations, ``g3`` their skewness and ``g4`` their kurtosis (NOT excess: 3 for
  normal returns), ``Z`` the standard normal CDF. It is the probability that the true Sharpe
  ratio exceeds the benchmark ``SR*``.
* DSR: D. H. Bailey and M. Lopez de Prado (2014), "The Deflated Sharpe Ratio: Correcting for
  Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio Management
  40(5), 94-107: ``DSR = PSR(SR0)`` where ``SR0`` is the expected maximum Sharpe ratio of
  ``N`` independent trials whose true Sharpe ratio is 0::

      SR0 = sqrt(V[SR_n]) * ((1 - gamma) * Zinv(1 - 1/N) + gamma * Zinv(1 - 1/(N e)))

  ``V[SR_n]`` the variance of the trials' (per-observation) Sharpe ratios (here the sample
  variance, ddof=1), ``gamma`` the Euler-Mascheroni constant, ``Zinv`` the normal quantile.
  The paper's numerical example (N = 100, annualised V[SR_n] = 1/2, T = 1,250 daily
  observations, annualised best SR 2.5, skewness -3, kurtosis 10) gives SR0 = 0.1132 per day
  and DSR = 0.9004 (tested in tests/ml/test_dsr.py).

Normal CDF and quantile: :class:`statistics.NormalDist` (stdlib; scipy is not a runtime
dependency). Skewness and kurtosis of a sample (:func:`sharpe_moments`) are the population
moment ratios ``m3 / m2**1.5`` and ``m4 / m2**2``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

#: Euler-Mascheroni constant.
EULER_GAMMA = 0.5772156649015329
_N = NormalDist()

SOURCE_PSR = 'Bailey & Lopez de Prado (2012), "The Sharpe Ratio Efficient Frontier", J. Risk 15(2)'
SOURCE_DSR = (
    'Bailey & Lopez de Prado (2014), "The Deflated Sharpe Ratio", J. Portfolio Management 40(5)'
)


def probabilistic_sharpe(
    sr: float, sr_benchmark: float, n_obs: int, skew: float = 0.0, kurtosis: float = 3.0
) -> float:
    """Probability (0-1) that the true Sharpe ratio exceeds ``sr_benchmark`` (PSR, 2012).

    Args:
        sr: observed Sharpe ratio per observation (mean / std of the returns, not annualised).
        sr_benchmark: the benchmark Sharpe ratio, same unit.
        n_obs: number of return observations (>= 2).
        skew: skewness of the returns (0 for normal).
        kurtosis: kurtosis of the returns, NOT excess (3 for normal).

    Raises:
        ValueError: ``n_obs`` < 2, a non-finite input, or a non-positive variance term
            ``1 - skew * sr + (kurtosis - 1) / 4 * sr**2`` (inconsistent moments).
    """
    for name, v in (
        ("sr", sr),
        ("sr_benchmark", sr_benchmark),
        ("skew", skew),
        ("kurtosis", kurtosis),
    ):
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {v!r}")
    if n_obs < 2:
        raise ValueError(f"need at least 2 observations for a PSR, got {n_obs}")
    var = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if var <= 0:
        raise ValueError(
            f"the PSR's variance term 1 - skew*SR + (kurtosis-1)/4*SR^2 = {var:.4g} is not "
            "positive: skewness and kurtosis are inconsistent with the Sharpe ratio"
        )
    return _N.cdf((sr - sr_benchmark) * math.sqrt(n_obs - 1.0) / math.sqrt(var))


def expected_max_sharpe(n_trials: int, sr_variance: float) -> float:
    """SR0 of the 2014 paper: the expected maximum per-observation Sharpe ratio of
    ``n_trials`` independent trials with true Sharpe 0 and Sharpe-estimate variance
    ``sr_variance``. 0 for a single trial (no selection) or zero variance.

    Raises:
        ValueError: ``n_trials`` < 1 or a negative / non-finite variance.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    if not (math.isfinite(sr_variance) and sr_variance >= 0):
        raise ValueError(f"sr_variance must be finite and >= 0, got {sr_variance!r}")
    if n_trials == 1 or sr_variance == 0:
        return 0.0
    z1 = _N.inv_cdf(1.0 - 1.0 / n_trials)
    z2 = _N.inv_cdf(1.0 - 1.0 / (n_trials * math.e))
    return math.sqrt(sr_variance) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)


def sharpe_moments(returns: Any) -> dict[str, float | int] | None:
    """``{"sr", "skew", "kurtosis", "n_obs"}`` of simple returns (fractions): the Sharpe ratio
    per observation (mean / std ddof=1, as :mod:`mixbot.backtest.metrics` before
    annualising), skewness and (non-excess) kurtosis; None for fewer than 2 finite returns or
    zero variance."""
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size < 2:
        return None
    d = r - r.mean()
    m2 = float(np.mean(d * d))
    std = float(np.std(r, ddof=1))
    if m2 <= 0 or std <= 1e-12 * max(1.0, abs(float(r.mean()))):
        return None
    return {
        "sr": float(r.mean()) / std,
        "skew": float(np.mean(d**3)) / m2**1.5,
        "kurtosis": float(np.mean(d**4)) / m2**2,
        "n_obs": int(r.size),
    }


def deflated_sharpe(
    sr_best: float,
    trial_srs: Sequence[float],
    n_obs: int,
    skew: float = 0.0,
    kurtosis: float = 3.0,
    n_trials: int | None = None,
) -> dict[str, Any]:
    """Deflated Sharpe ratio of the best of ``n_trials`` trials (2014 paper).

    Args:
        sr_best: the selected trial's Sharpe ratio per observation (not annualised).
        trial_srs: per-observation Sharpe ratios of the trials that have one (the selected
            one included); their sample variance (ddof=1) is ``V[SR_n]``.
        n_obs: return observations of the selected trial.
        skew, kurtosis: of the selected trial's returns (kurtosis NOT excess).
        n_trials: trials run, ``N`` (default ``len(trial_srs)``); may be larger than
            ``len(trial_srs)`` to count trials that had no Sharpe ratio (too few trades).

    Returns:
        JSON-able dict: ``dsr`` (0-1, or None), ``psr_zero`` (PSR against 0, 0-1, or None),
        ``sr0`` (per observation), ``sr_best``, ``sr_variance``, ``n_trials``,
        ``n_with_sharpe``, ``n_obs``, ``skew``, ``kurtosis``, ``reason`` (None, or why
        ``dsr`` is None), ``source``. With one trial SR0 = 0, so DSR = PSR(0).
    """
    srs = [float(s) for s in trial_srs if s is not None and math.isfinite(float(s))]
    n = len(srs) if n_trials is None else int(n_trials)
    out: dict[str, Any] = {
        "dsr": None, "psr_zero": None, "sr0": None, "sr_best": float(sr_best),
        "sr_variance": None, "n_trials": n, "n_with_sharpe": len(srs), "n_obs": int(n_obs),
        "skew": float(skew), "kurtosis": float(kurtosis), "reason": None, "source": SOURCE_DSR,
    }  # fmt: skip
    if n < max(1, len(srs)):
        raise ValueError(f"n_trials {n} is less than the {len(srs)} trial Sharpe ratios given")
    if n > 1 and len(srs) < 2:
        out["reason"] = f"{len(srs)} of {n} trials have a Sharpe ratio: need 2 for V[SR_n]"
        return out
    # identical Sharpe ratios: exactly 0 (np.var leaves float noise)
    var = float(np.var(srs, ddof=1)) if len(srs) >= 2 and max(srs) > min(srs) else 0.0
    out["sr_variance"] = var
    out["sr0"] = expected_max_sharpe(n, var)
    try:
        out["psr_zero"] = probabilistic_sharpe(sr_best, 0.0, n_obs, skew, kurtosis)
        out["dsr"] = probabilistic_sharpe(sr_best, out["sr0"], n_obs, skew, kurtosis)
    except ValueError as e:
        out["reason"] = str(e)
    return out


def deflated_sharpe_of_trials(
    best_returns: Any,
    trial_sharpes: Sequence[float | None],
    periods_per_year: float,
    n_trials: int | None = None,
) -> dict[str, Any]:
    """:func:`deflated_sharpe` from what the tuner has: the selected trial's period returns
    (fractions, e.g. :attr:`mixbot.ml.simulate.SimResult.daily_returns`) and every trial's
    ANNUALISED Sharpe ratio (None for a trial without one: it still counts in ``N``).

    Annualised ratios are divided by ``sqrt(periods_per_year)`` (252 for daily returns); the
    result also carries ``sr0_annualised`` and ``sr_best_annualised``. ``n_trials`` defaults
    to ``len(trial_sharpes)``.
    """
    scale = math.sqrt(periods_per_year)
    srs = [float(s) / scale for s in trial_sharpes if s is not None and math.isfinite(float(s))]
    n = len(trial_sharpes) if n_trials is None else int(n_trials)
    mom = sharpe_moments(best_returns)
    if mom is None:
        out = deflated_sharpe(0.0, srs, 0, n_trials=n)
        out.update(
            sr_best=None, reason="the selected trial has fewer than 2 returns or no variance"
        )
    else:
        out = deflated_sharpe(
            float(mom["sr"]), srs, int(mom["n_obs"]), float(mom["skew"]), float(mom["kurtosis"]), n
        )
    out["periods_per_year"] = float(periods_per_year)
    out["sr_best_annualised"] = None if out["sr_best"] is None else out["sr_best"] * scale
    out["sr0_annualised"] = None if out["sr0"] is None else out["sr0"] * scale
    return out
