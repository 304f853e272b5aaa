"""Numba kernels of :mod:`.direct`: log-density, gradient and trace values of a counting study.

Everything a kernel needs is in one float64 buffer built by :class:`.direct.DirectModel`
(layout there); the functions close over no Python object, so Numba caches them on disk
(``cache=True``) and a warm process loads them instead of compiling. The buffer's header
indices below must match :mod:`.direct`.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import types

_HEADER = 16
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_2 = math.log(2.0)
_N_SLOTS = 6


@numba.njit(cache=True)
def _softplus(y):
    """ln(1 + e^y) without overflow."""
    if y > 0.0:
        return y + math.log1p(math.exp(-y))
    return math.log1p(math.exp(y))


@numba.njit(cache=True)
def _sampled(kind, a, b, y):
    """(v, dv/dy, ln prior(v) + ln|dv/dy|, its derivative in y) for unconstrained y."""
    if kind == 0:  # Uniform(a, b), interval transform v = a + (b - a) sigmoid(y)
        if y >= 0.0:
            s = 1.0 / (1.0 + math.exp(-y))
        else:
            e = math.exp(y)
            s = e / (1.0 + e)
        # ln(1/(b-a)) + ln(b-a) + ln s + ln(1-s) = -2 softplus(-y) - y (PyMC's form)
        return a + (b - a) * s, (b - a) * s * (1.0 - s), -2.0 * _softplus(-y) - y, 1.0 - 2.0 * s
    if kind == 1:  # Normal(a, b) on the real line
        r = (y - a) / b
        return y, 1.0, -0.5 * r * r - math.log(b) - _HALF_LOG_2PI, -r / b
    # HalfNormal(a), log transform v = e^y
    v = math.exp(y)
    r = v / a
    return v, v, _LOG_2 - _HALF_LOG_2PI - math.log(a) - 0.5 * r * r + y, 1.0 - r * r


@numba.njit(cache=True)
def _quantity(kind, v):
    """(q, dq/dv): the quantity the counts use (mu^2 for a moment) from the sampled v."""
    if kind == 0:
        return v, 1.0
    if kind == 1:
        return v * v, 2.0 * v
    if kind == 2:
        if v > 0.0:
            return v, 1.0
        if v < 0.0:
            return -v, -1.0
        return 0.0, 0.0
    if kind == 3:
        e = math.exp(v)
        return e, e
    e = math.exp(2.0 * v)
    return e, 2.0 * e


@numba.njit(cache=True)
def _header(buf):
    """The header fields both kernels read, at the positions :class:`.direct.DirectModel` writes.

    (n_cols, n_phys, n_det, pooling, flux_sigma, det_sigma, o_phys, o_cols, radius shift).
    """
    return (
        int(buf[1]),
        int(buf[2]),
        int(buf[3]),
        int(buf[4]),
        buf[5],
        buf[6],
        int(buf[8]),
        int(buf[10]),
        buf[13],
    )


@numba.njit(cache=True)
def _fixed_quantities(buf):
    """The quantities of every slot at their fixed values (free ones are overwritten)."""
    o_fixed = int(buf[9])
    q = np.empty(_N_SLOTS)
    for k in range(_N_SLOTS):
        q[k] = buf[o_fixed + k]
    return q


@numba.njit(cache=True)
def _column(buf, c, q, shift):
    """Count column at offset ``c``: (s_eff, c0 + c1 s + c2 s^2, mu^2, is_e).

    The count polynomial of :func:`cenns_bayes.rates.coefficients.polynomial_counts`,
    compiled: s_eff = sin^2 theta_W + shift * <r^2> of the column's flavour.
    """
    is_e = buf[c + 4] > 0.5
    s = q[0] + shift * (q[5] if is_e else q[4])
    mu2 = q[3] if is_e else q[2]
    return s, buf[c] + s * (buf[c + 1] + s * buf[c + 2]), mu2, is_e


@numba.njit(cache=True)
def logp_kernel(x, grad, buf):
    """(status, log-density) at ``x``; writes the gradient into ``grad``. Status 0 is success."""
    n_cols, n_phys, n_det, pooling, flux_sigma, det_sigma, o_phys, o_cols, shift = _header(buf)
    q = _fixed_quantities(buf)
    dq = np.empty(n_phys)
    logp = 0.0
    for i in range(n_phys):
        row = o_phys + 5 * i
        v, dv, lp, dlp = _sampled(int(buf[row]), buf[row + 1], buf[row + 2], x[i])
        qv, dqv = _quantity(int(buf[row + 4]), v)
        q[int(buf[row + 3])] = qv
        dq[i] = dqv * dv
        logp += lp
        grad[i] = dlp
    at = n_phys
    log_flux = 0.0
    i_flux = -1
    if flux_sigma > 0.0:
        z = x[at]
        log_flux = flux_sigma * z
        logp += -0.5 * z * z - _HALF_LOG_2PI
        grad[at] = -z
        i_flux = at
        at += 1
    log_det = np.zeros(max(n_det, 1))
    tau = 0.0
    i_tau = -1
    i_z = at
    if pooling == 1:  # partial: tau ~ HalfNormal(sigma) on a log scale, z_d ~ N(0, 1)
        y = x[at]
        tau = math.exp(y)
        r = tau / det_sigma
        logp += _LOG_2 - _HALF_LOG_2PI - math.log(det_sigma) - 0.5 * r * r + y
        grad[at] = 1.0 - r * r
        i_tau = at
        i_z = at + 1
        for d in range(n_det):
            z = x[i_z + d]
            log_det[d] = tau * z
            logp += -0.5 * z * z - _HALF_LOG_2PI
            grad[i_z + d] = -z
    elif pooling == 3:  # none: independent z_d
        for d in range(n_det):
            z = x[at + d]
            log_det[d] = det_sigma * z
            logp += -0.5 * z * z - _HALF_LOG_2PI
            grad[at + d] = -z
    g_q = np.zeros(_N_SLOTS)
    g_log_det = np.zeros(max(n_det, 1))
    g_log_flux = 0.0
    strength = q[1]
    for j in range(n_cols):
        c = o_cols + 8 * j
        c1 = buf[c + 1]
        c2 = buf[c + 2]
        cm = buf[c + 3]
        d = int(buf[c + 5])
        n = buf[c + 6]
        s, weak, mu2, is_e = _column(buf, c, q, shift)
        scale = math.exp(log_flux + log_det[d])
        lam = scale * (strength * weak + cm * mu2)
        if not lam > 0.0 or not math.isfinite(lam):
            return 4, -np.inf
        logp += n * math.log(lam) - lam - buf[c + 7]
        w = n / lam - 1.0  # d lnL / d lambda
        g_log_flux += w * lam
        g_log_det[d] += w * lam
        g_s = w * scale * strength * (c1 + 2.0 * s * c2)
        g_q[0] += g_s
        g_q[1] += w * scale * weak
        if is_e:
            g_q[5] += shift * g_s
            g_q[3] += w * scale * cm
        else:
            g_q[4] += shift * g_s
            g_q[2] += w * scale * cm
    for i in range(n_phys):
        grad[i] += g_q[int(buf[o_phys + 5 * i + 3])] * dq[i]
    if i_flux >= 0:
        grad[i_flux] += flux_sigma * g_log_flux
    if pooling == 1:
        acc = 0.0
        for d in range(n_det):
            grad[i_z + d] += tau * g_log_det[d]
            acc += x[i_z + d] * g_log_det[d]
        grad[i_tau] += tau * acc
    elif pooling == 3:
        for d in range(n_det):
            grad[at + d] += det_sigma * g_log_det[d]
    if not math.isfinite(logp):
        return 4, logp
    for i in range(grad.shape[0]):
        if not math.isfinite(grad[i]):
            return 3, logp
    return 0, logp


@numba.njit(cache=True)
def expand_kernel(x, out, buf):
    """The trace's variables at ``x`` into ``out``, in the order :mod:`.direct` names them."""
    n_cols, n_phys, n_det, pooling, flux_sigma, det_sigma, o_phys, o_cols, shift = _header(buf)
    n_out = int(buf[11])
    o_out = int(buf[12])
    q = _fixed_quantities(buf)
    values = np.empty(n_phys)
    for i in range(n_phys):
        row = o_phys + 5 * i
        v = _sampled(int(buf[row]), buf[row + 1], buf[row + 2], x[i])[0]
        values[i] = v
        q[int(buf[row + 3])] = _quantity(int(buf[row + 4]), v)[0]
    k = 0
    for p in range(n_out):
        v = values[int(buf[o_out + 2 * p])]
        fn = int(buf[o_out + 2 * p + 1])
        if fn == 0:
            out[k] = v
        elif fn == 1:
            out[k] = abs(v)
        elif fn == 2:
            out[k] = math.sqrt(abs(v))
        else:
            out[k] = math.exp(v)
        k += 1
    at = n_phys
    flux = 1.0
    if flux_sigma > 0.0:
        flux = math.exp(flux_sigma * x[at])
        out[k] = x[at]
        out[k + 1] = flux
        k += 2
        at += 1
    norm = np.ones(max(n_det, 1))
    if pooling == 1:
        tau = math.exp(x[at])
        out[k] = tau
        k += 1
        at += 1
        for d in range(n_det):
            out[k + d] = x[at + d]
            norm[d] = math.exp(tau * x[at + d])
        k += n_det
    elif pooling == 3:
        for d in range(n_det):
            out[k + d] = x[at + d]
            norm[d] = math.exp(det_sigma * x[at + d])
        k += n_det
    if pooling > 0:
        for d in range(n_det):
            out[k + d] = norm[d]
        k += n_det
    for j in range(n_cols):
        c = o_cols + 8 * j
        weak, mu2 = _column(buf, c, q, shift)[1:3]
        base = q[1] * weak + buf[c + 3] * mu2
        out[k + j] = base * flux * norm[int(buf[c + 5])]
    return 0


_LOGP_SIGNATURE = types.int64(
    types.uint64,
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.voidptr,
)
_EXPAND_SIGNATURE = types.int64(
    types.uint64,
    types.uint64,
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.voidptr,
)


@numba.cfunc(_LOGP_SIGNATURE, cache=True)
def logp_cfunc(dim, x_, grad_, logp_, buffer_):
    """Log-density callback for nutpie: 0 on success, as nutpie's PyMC callbacks return."""
    head = numba.carray(buffer_, (_HEADER,), np.float64)
    n_dim = int(head[0])
    if dim != n_dim:
        return -1
    buf = numba.carray(buffer_, (int(head[12]) + 2 * int(head[11]),), np.float64)
    x = numba.carray(x_, (n_dim,))
    grad = numba.carray(grad_, (n_dim,))
    logp = numba.carray(logp_, (1,))
    status, value = logp_kernel(x, grad, buf)
    logp[0] = value
    return status


@numba.cfunc(_EXPAND_SIGNATURE, cache=True)
def expand_cfunc(dim, expanded, x_, out_, buffer_):
    """Callback for nutpie: the values stored in the trace."""
    head = numba.carray(buffer_, (_HEADER,), np.float64)
    n_dim = int(head[0])
    if dim != n_dim or expanded != int(head[7]):
        return -1
    buf = numba.carray(buffer_, (int(head[12]) + 2 * int(head[11]),), np.float64)
    x = numba.carray(x_, (n_dim,))
    out = numba.carray(out_, (int(head[7]),))
    return expand_kernel(x, out, buf)
