"""Steady-state background measured in an anticoincidence (off) window: on/off Poisson likelihood.

In each analysis bin ``i`` the coincidence (on) window counts ``n_i`` events with
expectation ``s_i + b_i`` (``s_i``: CEvNS plus beam-related backgrounds; ``b_i``:
steady-state background), and the anticoincidence (off) window counts ``m_i``
events with expectation ``τ b_i``. For the COHERENT CsI 2017 release both
windows have the same length, ``τ = 1`` (REFERENCE.md §3.2). The joint
likelihood is

    L_i(s_i, b_i) = Pois(n_i; s_i + b_i) · Pois(m_i; τ b_i).

Profiling ``b_i`` analytically: ∂ln L_i/∂b_i = n_i/(s_i + b_i) − 1 + m_i/b_i − τ = 0
is the quadratic

    (1 + τ) b² − [n + m − (1 + τ) s] b − m s = 0,

whose non-negative root is

    b̂ = { B + √(B² + 4 (1 + τ) m s) } / (2 (1 + τ)),   B = n + m − (1 + τ) s,

i.e. for τ = 1:  b̂ = [n + m − 2s + √((n + m − 2s)² + 8 m s)] / 4.

ln L_i is concave in b_i (both terms are concave), so this stationary point is
the maximum for s ≥ 0. Special cases: s = 0 gives b̂ = (n + m)/(1 + τ); m = 0
gives b̂ = max(0, n/(1 + τ) − s). The root is evaluated in a form free of
cancellation when B < 0. By the envelope theorem the derivative of the profile
log-likelihood with respect to s is n/(s + b̂) − 1.

All functions work element-wise on arrays (bins); sum the result over the
analysis region. Only numpy and scipy are used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..poisson import poisson_deviance_terms

__all__ = [
    "CONTROL_SAMPLE_NAMES",
    "MeasuredBackground",
    "SmoothSteadyState",
    "on_off_log_likelihood",
    "on_off_profile_deviance",
    "on_off_profile_gradient",
    "on_off_profile_log_likelihood",
    "poisson_log_likelihood",
    "profiled_background",
    "profiled_rate",
    "pooled_control_counts",
    "steady_state_from_anticoincidence",
]


class MeasuredBackground(NamedTuple):
    """A background measured by counting, with its Poisson uncertainty.

    Attributes
    ----------
    expected : ndarray
        Estimate of the steady-state expectation per bin (the off counts divided by τ).
    sigma : ndarray
        Its Poisson standard error, √m / τ.

    """

    expected: NDArray[np.float64]
    sigma: NDArray[np.float64]


def steady_state_from_anticoincidence(ac_counts: ArrayLike, tau: float = 1.0) -> MeasuredBackground:
    """Steady-state background in the on window estimated from anticoincidence counts.

    Parameters
    ----------
    ac_counts : array_like
        Counts ``m`` in the anticoincidence window per bin.
    tau : float
        Ratio of the off-window to the on-window exposure (1 for the release).

    Returns
    -------
    MeasuredBackground
        ``m/τ`` and ``√m/τ``.

    """
    m = _counts(ac_counts, "ac_counts")
    if tau <= 0:
        raise ValueError("tau must be > 0")
    return MeasuredBackground(m / tau, np.sqrt(m) / tau)


def _counts(values: ArrayLike, name: str) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=float)
    if np.any(array < 0) or np.any(array != np.round(array)):
        raise ValueError(f"{name} must be non-negative integers")
    return array


def _expectation(values: ArrayLike, name: str) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=float)
    if np.any(~np.isfinite(array)) or np.any(array < 0):
        raise ValueError(f"{name} must be finite and >= 0")
    return array


def poisson_log_likelihood(counts: ArrayLike, expected: ArrayLike) -> NDArray[np.float64]:
    """Element-wise ``ln Pois(n; μ) = n ln μ − μ − ln n!`` (−inf where μ = 0 < n)."""
    n = _counts(counts, "counts")
    mu = _expectation(expected, "expected")
    from scipy.special import gammaln, xlogy  # here: importing scipy costs ~0.4 s

    with np.errstate(divide="ignore"):
        return xlogy(n, mu) - mu - gammaln(n + 1.0)


def on_off_log_likelihood(
    n_on: ArrayLike, m_off: ArrayLike, s: ArrayLike, b: ArrayLike, tau: float = 1.0
) -> NDArray[np.float64]:
    """Element-wise joint log-likelihood ``ln Pois(n; s + b) + ln Pois(m; τ b)``.

    Parameters
    ----------
    n_on : array_like
        Counts in the on (coincidence) window.
    m_off : array_like
        Counts in the off (anticoincidence) window.
    s : array_like
        Expectation of everything but the steady-state background in the on window (≥ 0).
    b : array_like
        Steady-state expectation in the on window (≥ 0).
    tau : float
        Off/on exposure ratio (default 1).

    Returns
    -------
    ndarray
        Log-likelihood per bin (normalised Poisson terms, factorials included).

    """
    s_arr = _expectation(s, "s")
    b_arr = _expectation(b, "b")
    return poisson_log_likelihood(n_on, s_arr + b_arr) + poisson_log_likelihood(m_off, tau * b_arr)


def profiled_background(
    n_on: ArrayLike, m_off: ArrayLike, s: ArrayLike, tau: float = 1.0
) -> NDArray[np.float64]:
    """Maximum-likelihood steady-state background ``b̂(s)`` per bin (closed form, module docstring).

    Parameters
    ----------
    n_on, m_off : array_like
        On- and off-window counts.
    s : array_like
        Non-steady-state expectation in the on window (≥ 0).
    tau : float
        Off/on exposure ratio (default 1).

    Returns
    -------
    ndarray
        ``b̂ ≥ 0``, broadcast shape of the inputs.

    """
    if tau <= 0:
        raise ValueError("tau must be > 0")
    n = _counts(n_on, "n_on")
    m = _counts(m_off, "m_off")
    s_arr = _expectation(s, "s")
    return profiled_rate(n, m, s_arr, tau)


def profiled_rate(
    n_on: ArrayLike, m_off: ArrayLike, s: ArrayLike, tau: ArrayLike = 1.0
) -> np.ndarray:
    """The closed form of :func:`profiled_background` without input checks.

    For the fitters' inner loops; non-integer (Asimov) counts allowed. Evaluated without
    cancellation for B < 0.
    """
    n, m, s = (np.asarray(x, dtype=float) for x in (n_on, m_off, s))
    a = 1.0 + np.asarray(tau, dtype=float)
    big_b = n + m - a * s
    c = m * s
    root = np.sqrt(big_b * big_b + 4.0 * a * c)
    # (B + sqrt(D)) / (2A) = 2C / (sqrt(D) - B): no cancellation when B < 0.
    with np.errstate(divide="ignore", invalid="ignore"):
        neg = np.where(
            root - big_b > 0, 2.0 * c / np.where(root - big_b > 0, root - big_b, 1.0), 0.0
        )
    return np.where(big_b >= 0, (big_b + root) / (2.0 * a), neg)


def on_off_profile_log_likelihood(
    n_on: ArrayLike, m_off: ArrayLike, s: ArrayLike, tau: float = 1.0
) -> NDArray[np.float64]:
    """Element-wise ``max_b ln L(s, b)``, the joint on/off log-likelihood profiled over ``b``."""
    b_hat = profiled_background(n_on, m_off, s, tau)
    return on_off_log_likelihood(n_on, m_off, s, b_hat, tau)


def on_off_profile_gradient(
    n_on: ArrayLike, m_off: ArrayLike, s: ArrayLike, tau: float = 1.0
) -> NDArray[np.float64]:
    """Element-wise derivative ``n/(s + b̂) − 1`` of the profile log-likelihood in ``s``.

    Where ``s + b̂ = 0`` (only possible with n = m = s = 0) the value −1 is returned
    (the right derivative).
    """
    n = _counts(n_on, "n_on")
    total = _expectation(s, "s") + profiled_background(n_on, m_off, s, tau)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(total > 0, n / np.where(total > 0, total, 1.0), 0.0)
    return ratio - 1.0


def on_off_profile_deviance(
    n_on: ArrayLike, m_off: ArrayLike, s: ArrayLike, tau: float = 1.0
) -> NDArray[np.float64]:
    """Element-wise profiled deviance ``−2 [ln L(s, b̂) − ln L_saturated] ≥ 0``.

    The saturated model sets the on and off expectations to the observed ``n``
    and ``m``. Summed over bins this is a χ²-like statistic whose differences
    give profile-likelihood ratios.
    """
    n = _counts(n_on, "n_on")
    m = _counts(m_off, "m_off")
    b_hat = profiled_background(n, m, s, tau)
    mu_on = _expectation(s, "s") + b_hat
    return poisson_deviance_terms(n, mu_on) + poisson_deviance_terms(m, tau * b_hat)


# --------------------------------------------------------------------------- control samples

#: Control samples of a release with beam (AC window) and without beam (C and AC windows).
CONTROL_SAMPLE_NAMES = ("ac-beam-on", "c-beam-off", "ac-beam-off")


def pooled_control_counts(
    histograms: Mapping[str, ArrayLike],
    samples: Sequence[str],
    live_days: Mapping[str, float],
    on_live_days: float,
) -> tuple[np.ndarray, float]:
    """Sum of the control histograms and their exposure ratio tau to the coincidence beam-on window.

    Every control window has the length of the coincidence window, so a steady-state rate
    b (events in the beam-on C window) gives tau_k b = b * live_k / live_on in sample k, and
    the sum of the samples is Poisson with mean tau b, tau = sum_k live_k / live_on. The
    sum is a sufficient statistic for b: pooling loses nothing if the samples share the
    steady state's shape (docs/coherent_csi_2017.md tests this on the release).

    Parameters
    ----------
    histograms : mapping
        Sample name -> counts (any shape, all the same).
    samples : sequence of str
        Names to pool (a subset of :data:`CONTROL_SAMPLE_NAMES`).
    live_days : mapping
        Sample name -> live time of its data (days).
    on_live_days : float
        Live time of the beam-on coincidence data (days).

    Returns
    -------
    (ndarray, float)
        Pooled counts and tau.
    """
    if not samples:
        raise ValueError("at least one control sample is needed")
    counts = sum(_counts(histograms[name], name) for name in samples)
    tau = sum(float(live_days[name]) for name in samples) / float(on_live_days)
    return np.asarray(counts, dtype=float), tau


@dataclass(frozen=True, eq=False)
class SmoothSteadyState:
    """A smooth steady-state background b_ij = P_i q_j, constrained by pooled control counts.

    In the coincidence (beam-on) window the expected steady-state count in PE bin i and
    arrival-time bin j is

        b_ij = P_i * q_j,   q_j = e^{-lambda t_j} (1 + eps [t_j < t_early]) / sum_k (same),

    with t_j the lower edge of time bin j (for equal-width bins the exact integral of
    e^{-lambda t} over a bin is this times a constant that cancels in q). P_i is the
    number of steady-state events in PE bin i over the analysis time range: a free
    amplitude per PE bin (``pe_shape = "free"``) or A times the control sample's PE
    spectrum (``"control"``, fixed shape). The parameter vector is

        theta = (ln P_1 .. ln P_n  |  ln A,   lambda_per_us,   ln(1 + eps)),

    the last two only when arrival time is used, the last only when ``t_early > 0``. The
    pooled control counts M_ij are Poisson with mean tau b_ij; their deviance
    2 sum[tau b - M + M ln(M / tau b)] is the constraint (:meth:`control_neg2ll`). Every
    method takes the array module ``xp`` (NumPy or PyTensor).

    Attributes
    ----------
    control_counts : ndarray (n_pe, n_time) or (n_pe,)
        Pooled control counts in the analysis region (time-summed without timing).
    tau : float
        Exposure ratio of the pooled control samples to the coincidence window.
    time_lower_edges_us : ndarray (n_time,) or None
        Lower edges of the analysis time bins (µs); None without timing.
    early_time_us : float
        Times below this have the extra factor (1 + eps); 0 disables it.
    pe_shape : {"free", "control"}
    """

    control_counts: np.ndarray
    tau: float
    time_lower_edges_us: np.ndarray | None
    early_time_us: float = 1.0
    pe_shape: str = "free"
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        m = np.asarray(self.control_counts, dtype=float)
        if self.pe_shape not in ("free", "control"):
            raise ValueError(f"pe_shape must be 'free' or 'control', not {self.pe_shape!r}")
        if self.time_lower_edges_us is None and m.ndim != 1:
            raise ValueError("without timing the control counts are one PE spectrum")
        if self.time_lower_edges_us is not None and m.shape[1:] != np.shape(
            self.time_lower_edges_us
        ):
            raise ValueError("control counts and time edges disagree in shape")
        if np.any(m.sum(axis=-1) <= 0) and self.pe_shape == "free":
            raise ValueError("a PE bin has no control counts: its free amplitude is not measured")
        n_pe = m.shape[0]
        n_t = 1 if self.time_lower_edges_us is None else m.shape[1]
        self._cache["n_pe"], self._cache["n_t"] = n_pe, n_t
        # indicator matrices: bin (PE-major) -> PE bin, -> time bin
        self._cache["pe_of_bin"] = np.repeat(np.eye(n_pe), n_t, axis=0)
        self._cache["t_of_bin"] = np.tile(np.eye(n_t), (n_pe, 1))
        self._cache["m_flat"] = m.reshape(-1)
        pe_marginal = m.sum(axis=-1) if m.ndim == 2 else m
        self._cache["pe_spectrum"] = pe_marginal / pe_marginal.sum()
        if self.uses_early:
            self._cache["early"] = (
                np.asarray(self.time_lower_edges_us) < self.early_time_us - 1e-12
            ).astype(float)

    # ---------------------------------------------------------------- parameters
    @property
    def uses_time(self) -> bool:
        """Whether the model has a time dimension (time bin edges were given)."""
        return self.time_lower_edges_us is not None

    @property
    def uses_early(self) -> bool:
        """Whether early arrival times get their own amplitude factor."""
        return self.uses_time and self.early_time_us > 0

    @property
    def n_amplitudes(self) -> int:
        """Number of PE amplitudes: one per PE bin (free shape) or one (control shape)."""
        return self._cache["n_pe"] if self.pe_shape == "free" else 1

    @property
    def parameter_names(self) -> list[str]:
        """Names of the entries of theta."""
        names = (
            [f"ln_rate_pe{i}" for i in range(self.n_amplitudes)]
            if self.pe_shape == "free"
            else ["ln_total"]
        )
        if self.uses_time:
            names.append("lambda_per_us")
        if self.uses_early:
            names.append("ln_early_factor")
        return names

    @property
    def size(self) -> int:
        """Number of entries of theta."""
        return len(self.parameter_names)

    # ---------------------------------------------------------------- expectation
    def _amplitudes(self, theta, xp=np):
        log_amp = theta[: self.n_amplitudes]
        if self.pe_shape == "free":
            return xp.exp(log_amp)
        return xp.exp(log_amp[0]) * self._cache["pe_spectrum"]

    def time_shape(self, theta, xp=np):
        """q_j, summing to one over the analysis time bins (1 without timing)."""
        if not self.uses_time:
            return None
        k = self.n_amplitudes
        exponent = -theta[k] * np.asarray(self.time_lower_edges_us, dtype=float)
        if self.uses_early:
            exponent = exponent + theta[k + 1] * self._cache["early"]
        # subtracting the largest exponent would be safer, but lambda * 12 us stays small here
        weights = xp.exp(exponent)
        return weights / xp.sum(weights)

    def counts(self, theta, xp=np):
        """Expected steady-state counts per analysis bin in the coincidence window (PE-major)."""
        amp = self._amplitudes(theta, xp)
        if xp is np:  # the same products without the indicator matrices (fits' inner loop)
            n_t = self._cache["n_t"]
            per_pe_np = np.repeat(amp, n_t)
            if not self.uses_time:
                return per_pe_np
            return per_pe_np * np.tile(self.time_shape(theta), self._cache["n_pe"])
        per_pe = xp.sum(self._cache["pe_of_bin"] * amp, axis=1)
        if not self.uses_time:
            return per_pe
        return per_pe * xp.sum(self._cache["t_of_bin"] * self.time_shape(theta, xp), axis=1)

    def control_neg2ll(self, theta, xp=np):
        """Poisson deviance of the pooled control counts against tau * b(theta)."""
        lam = self.tau * self.counts(theta, xp)
        return xp.sum(poisson_deviance_terms(self._cache["m_flat"], lam, xp))

    def counts_jacobian(self, theta: np.ndarray) -> np.ndarray:
        """D b / d theta of :meth:`counts` (NumPy, exact), shape (size, n_bins).

        With b_ij = P_i q_j: d b / d ln P_i = b on PE bin i (d b / d ln A = b for the
        control shape); d ln q_j / d lambda = -(t_j - <t>_q) and
        d ln q_j / d ln(1 + eps) = e_j - <e>_q, averages taken over q.
        """
        theta = np.asarray(theta, dtype=float)
        b = np.asarray(self.counts(theta), dtype=float)
        pe_of_bin = self._cache["pe_of_bin"]
        rows = [pe_of_bin.T * b] if self.pe_shape == "free" else [b[None, :]]
        if self.uses_time:
            q = self.time_shape(theta)
            t_of_bin = self._cache["t_of_bin"]
            t = np.asarray(self.time_lower_edges_us, dtype=float)
            rows.append((b * (t_of_bin @ (float(q @ t) - t)))[None, :])
            if self.uses_early:
                early = self._cache["early"]
                rows.append((b * (t_of_bin @ (early - float(q @ early))))[None, :])
        return np.concatenate(rows, axis=0)

    def control_neg2ll_gradient(self, theta: np.ndarray) -> np.ndarray:
        """D :meth:`control_neg2ll` / d theta (NumPy, exact), shape (size,)."""
        theta = np.asarray(theta, dtype=float)
        lam = self.tau * np.asarray(self.counts(theta), dtype=float)
        return 2.0 * self.tau * (self.counts_jacobian(theta) @ (1.0 - self._cache["m_flat"] / lam))

    def log_rate_prior(self, theta, kind: str, xp=np):
        """Ln of a prior density on theta that is ``kind`` in the amplitudes P (flat in the rest).

        ``"uniform"``: flat in each P (density in ln P is P); ``"jeffreys"``: P^(-1/2), the
        Jeffreys prior of a Poisson mean (density in ln P is P^(1/2)).
        """
        power = {"uniform": 1.0, "jeffreys": 0.5}[kind]
        return power * xp.sum(theta[: self.n_amplitudes])

    # ---------------------------------------------------------------- control-only fit
    def fit_control(self) -> tuple[np.ndarray, np.ndarray]:
        """Maximum-likelihood theta from the control counts alone, and its standard errors.

        The amplitudes have the closed form ln(M_i. / tau); the time parameters are
        minimised numerically. Standard errors come from the inverse Fisher information
        sum_bins (d mu / d theta)(d mu / d theta)^T / mu at the optimum.
        """
        m = np.asarray(self.control_counts, dtype=float)
        pe_marginal = m.sum(axis=-1) if m.ndim == 2 else m
        if self.pe_shape == "free":
            start = list(np.log(pe_marginal / self.tau))
        else:
            start = [float(np.log(pe_marginal.sum() / self.tau))]
        n_time = self.size - len(start)
        theta0 = np.array(start + [0.0] * n_time)
        if n_time:

            def objective(x):
                value = self.control_neg2ll(np.concatenate([theta0[: len(start)], x]))
                return float(value) if np.isfinite(value) else 1e30

            from scipy import optimize

            res = optimize.minimize(
                objective,
                np.zeros(n_time),
                method="Nelder-Mead",
                options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000},
            )
            theta0[len(start) :] = res.x
        jac = self._jacobian(theta0)
        mu = self.tau * self.counts(theta0)
        info = (jac / mu[:, None]).T @ jac
        sigma = np.sqrt(np.diag(np.linalg.inv(info)))
        return theta0, sigma

    def _jacobian(self, theta: np.ndarray, step: float = 1e-6) -> np.ndarray:
        """D (tau b) / d theta by central differences, (n_bins, size)."""
        cols = []
        for k in range(theta.size):
            up, down = theta.copy(), theta.copy()
            up[k] += step
            down[k] -= step
            cols.append(self.tau * (self.counts(up) - self.counts(down)) / (2 * step))
        return np.stack(cols, axis=1)
