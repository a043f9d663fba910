"""numpy reference of deepz.add_noise: Philox-4x32-10 and the same float math.

Every expression below mirrors cpp/include/deepz/{philox,noise}.hpp operation
by operation (same constants, same order, float32 where the C++ is float32),
so the reference gives the same bits as the kernel and the tests compare with
``==``. It is written for clarity: whole-array numpy, no tricks.
"""

from __future__ import annotations

import numpy as np

F32 = np.float32
F64 = np.float64
MASK32 = np.uint64(0xFFFFFFFF)

# ---------------------------------------------------------------- Philox-4x32-10
PHILOX_M0 = np.uint64(0xD2511F53)
PHILOX_M1 = np.uint64(0xCD9E8D57)
PHILOX_W0 = np.uint64(0x9E3779B9)
PHILOX_W1 = np.uint64(0xBB67AE85)


def philox4x32_10(counter, key):
    """Philox-4x32-10 of counters (..., 4) with keys (..., 2), uint64 arithmetic."""
    c = [np.asarray(counter, dtype=np.uint64)[..., i] for i in range(4)]
    k0 = np.asarray(key, dtype=np.uint64)[..., 0]
    k1 = np.asarray(key, dtype=np.uint64)[..., 1]
    for rnd in range(10):
        if rnd > 0:
            k0 = (k0 + PHILOX_W0) & MASK32
            k1 = (k1 + PHILOX_W1) & MASK32
        p0 = PHILOX_M0 * c[0]  # < 2^64: no wrap-around
        p1 = PHILOX_M1 * c[2]
        c = [
            (p1 >> np.uint64(32)) ^ c[1] ^ k0,
            p1 & MASK32,
            (p0 >> np.uint64(32)) ^ c[3] ^ k1,
            p0 & MASK32,
        ]
    return np.stack(c, axis=-1).astype(np.uint32)


def philox_draw(seed, block, word, index):
    """Philox keyed by a 64-bit seed, counter (block, word, index lo32, index hi32)."""
    block, word, index = np.broadcast_arrays(
        np.asarray(block, dtype=np.uint64),
        np.asarray(word, dtype=np.uint64),
        np.asarray(index, dtype=np.uint64),
    )
    counter = np.stack([block, word, index & MASK32, index >> np.uint64(32)], axis=-1)
    key = np.broadcast_to(
        np.array([seed & 0xFFFFFFFF, seed >> 32], dtype=np.uint64), counter.shape[:-1] + (2,)
    )
    return philox4x32_10(counter, key)


def uniform_f32(x):
    """((x >> 9) + 1/2) 2^-23 in float32 (exact)."""
    k = (np.asarray(x, dtype=np.uint32) >> np.uint32(9)).astype(F32)
    return (k + F32(0.5)) * F32(2.0**-23)


def uniform_f64(hi, lo):
    """((hi << 20 | lo >> 12) + 1/2) 2^-52 in float64 (exact)."""
    k = (np.asarray(hi, dtype=np.uint64) << np.uint64(20)) | (
        np.asarray(lo, dtype=np.uint64) >> np.uint64(12)
    )
    return (k.astype(F64) + 0.5) * 2.0**-52


# ---------------------------------------------------------------- float math
def _h(dtype, *hexes):
    return [dtype(float.fromhex(h)) for h in hexes]


LOG_F32 = _h(
    F32, "0x1.555556p-1", "0x1.99999ap-2", "0x1.24924ap-2", "0x1.c71c72p-3", "0x1.745d18p-3"
)
LOG_F64 = _h(
    F64,
    "0x1.5555555555555p-1",
    "0x1.999999999999ap-2",
    "0x1.2492492492492p-2",
    "0x1.c71c71c71c71cp-3",
    "0x1.745d1745d1746p-3",
    "0x1.3b13b13b13b14p-3",
    "0x1.1111111111111p-3",
    "0x1.e1e1e1e1e1e1ep-4",
    "0x1.af286bca1af28p-4",
    "0x1.8618618618618p-4",
)
SIN_F32 = _h(
    F32, "0x1.921fb6p+0", "-0x1.4abbcep-1", "0x1.466bc6p-4", "-0x1.32d2ccp-8", "0x1.507834p-13"
)
COS_F32 = _h(
    F32,
    "0x1p+0",
    "-0x1.3bd3ccp+0",
    "0x1.03c1f0p-2",
    "-0x1.55d3c8p-6",
    "0x1.e1f506p-11",
    "-0x1.a6d1f2p-16",
)
SIN_F64 = _h(
    F64,
    "0x1.921fb54442d18p+0",
    "-0x1.4abbce625be53p-1",
    "0x1.466bc6775aae2p-4",
    "-0x1.32d2cce62bd86p-8",
    "0x1.50783487ee782p-13",
    "-0x1.e3074fde8871fp-19",
    "0x1.e8f434d018d63p-25",
    "-0x1.6fadb9f155744p-31",
    "0x1.aaec32af93359p-38",
)
COS_F64 = _h(
    F64,
    "0x1p+0",
    "-0x1.3bd3cc9be45dep+0",
    "0x1.03c1f081b5ac4p-2",
    "-0x1.55d3c7e3cbffap-6",
    "0x1.e1f506891babbp-11",
    "-0x1.a6d1f2a204a8cp-16",
    "0x1.f9d38a3763cc3p-22",
    "-0x1.b6e24f44b128fp-28",
    "0x1.20c62c2f2d7f5p-34",
)
EXP_F64 = _h(
    F64,
    "0x1p+0",
    "0x1p+0",
    "0x1p-1",
    "0x1.5555555555555p-3",
    "0x1.5555555555555p-5",
    "0x1.1111111111111p-7",
    "0x1.6c16c16c16c17p-10",
    "0x1.a01a01a01a01ap-13",
    "0x1.a01a01a01a01ap-16",
    "0x1.71de3a556c734p-19",
    "0x1.27e4fb7789f5cp-22",
    "0x1.ae64567f544e4p-26",
    "0x1.1eed8eff8d898p-29",
    "0x1.6124613a86d09p-33",
)
STIRLING = _h(
    F64,
    "0x1.5555555555555p-4",
    "-0x1.6c16c16c16c17p-9",
    "0x1.a01a01a01a01ap-11",
    "-0x1.3813813813814p-11",
)
LN2_HI_F32, LN2_LO_F32, SQRT2_F32 = _h(F32, "0x1.62ep-1", "0x1.0bfbe8p-15", "0x1.6a09e6p+0")
LN2_HI, LN2_LO, SQRT2, INV_LN2, TWO_PI = _h(
    F64,
    "0x1.62e42p-1",
    "0x1.fdf473de6af28p-22",
    "0x1.6a09e667f3bcdp+0",
    "0x1.71547652b82fep+0",
    "0x1.921fb54442d18p+2",
)


def horner(x, coeffs):
    """c0 + x (c1 + x (c2 + ...)), innermost first, in the dtype of x."""
    acc = coeffs[-1]
    for c in reversed(coeffs[:-1]):
        acc = c + x * acc
    return acc


def log(x):
    """Natural log of positive finite x (float32 or float64), the kernel's formula."""
    x = np.asarray(x)
    if x.dtype == F32:
        uint, mant, one, bias, shift = np.uint32, 0x007FFFFF, 0x3F800000, 127, 23
        tiny, scale, eadj = F32(2.0**-126), F32(2.0**25), 25
        coeffs, ln2_hi, ln2_lo, sqrt2 = LOG_F32, LN2_HI_F32, LN2_LO_F32, SQRT2_F32
    else:
        uint, mant, one, bias, shift = np.uint64, 0x000FFFFFFFFFFFFF, 0x3FF0000000000000, 1023, 52
        tiny, scale, eadj = F64(2.0**-1022), F64(2.0**54), 54
        coeffs, ln2_hi, ln2_lo, sqrt2 = LOG_F64, LN2_HI, LN2_LO, SQRT2
    dt = x.dtype.type
    sub = x < tiny  # subnormal: scale up first
    xs = x * np.where(sub, scale, dt(1))
    b = xs.view(uint)
    m1 = ((b & uint(mant)) | uint(one)).view(x.dtype)
    big = m1 > sqrt2
    m = np.where(big, dt(0.5) * m1, m1)
    e = (b >> uint(shift)).astype(np.int64) - bias + big - np.where(sub, eadj, 0)
    e = e.astype(x.dtype)
    f = m - dt(1)
    hfsq = (dt(0.5) * f) * f
    s = f / (dt(2) + f)
    z = s * s
    r = z * horner(z, coeffs)
    return e * ln2_hi - ((hfsq - (s * (hfsq + r) + e * ln2_lo)) - f)


def log1p(x):
    """log(1 + x), float64: x log(u) / (u - 1) with u = 1 + x."""
    x = np.asarray(x, dtype=F64)
    u = 1.0 + x
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(u == 1.0, x, (x * log(np.where(u == 1.0, 2.0, u))) / (u - 1.0))


def exp(x):
    """exp(x), float64, for -745 < x < 709."""
    x = np.asarray(x, dtype=F64)
    kf = np.floor(x * INV_LN2 + 0.5)
    r = (x - kf * LN2_HI) - kf * LN2_LO
    return np.ldexp(horner(r, EXP_F64), kf.astype(np.int64))


def sincos_quarter(r, q):
    """sin and cos of (pi/2)(q + r), |r| <= 1/2."""
    sin_c, cos_c = (SIN_F32, COS_F32) if r.dtype == F32 else (SIN_F64, COS_F64)
    z = r * r
    sr = r * horner(z, sin_c)
    cr = horner(z, cos_c)
    q = np.asarray(q) & 3
    ss = np.where(q & 1, cr, sr)
    cc = np.where(q & 1, sr, cr)
    return np.where(q >= 2, -ss, ss), np.where((q == 1) | (q == 2), -cc, cc)


def sincos2pi(u):
    """sin(2 pi u) and cos(2 pi u): 4u = q + r with q the nearest integer (exact)."""
    u = np.asarray(u)
    dt = u.dtype.type
    y = dt(4) * u
    qf = np.floor(y + dt(0.5))
    return sincos_quarter(y - qf, qf.astype(np.int64))


def normal_pair(a, b, dtype):
    """Box-Muller normals (r cos 2 pi u2, r sin 2 pi u2) of the words (a, b)."""
    u1 = uniform_f32(a).astype(dtype)
    u2 = uniform_f32(b).astype(dtype)
    r = np.sqrt(dtype(-2) * log(u1))
    s, c = sincos2pi(u2)
    return r * c, r * s


# ---------------------------------------------------------------- Poisson
def poisson_logpmf(k, lam, loglam):
    """log P(k; lam) as PTRS evaluates it (lam >= 10, k >= 0 integer-valued)."""
    k, lam, loglam = np.broadcast_arrays(*(np.asarray(a, dtype=F64) for a in (k, lam, loglam)))
    fact = np.ones_like(k)
    for i in range(2, 10):
        fact = np.where(i <= k, fact * i, fact)
    small = (k * loglam - lam) - log(fact)
    kk = np.maximum(k, 10.0)  # the Stirling branch, evaluated where k >= 10
    d = kk - lam
    t = kk * log1p(d / lam) - d
    ik = 1.0 / kk
    st = ik * horner(ik * ik, STIRLING)
    large = (-t - 0.5 * log(TWO_PI * kk)) - st
    return np.where(k < 10.0, small, large)


def poisson_count(lam, seed, block, lane, index):
    """Poisson counts of mean lam (float64 array), each on its own Philox stream."""
    lam, block, lane, index = np.broadcast_arrays(
        np.asarray(lam, dtype=F64),
        np.asarray(block, dtype=np.uint64),
        np.asarray(lane, dtype=np.uint64),
        np.asarray(index, dtype=np.uint64),
    )
    k = np.zeros(lam.shape)
    # inversion, lam < 10
    inv = (lam > 0) & (lam < 10)
    li = lam[inv]
    x = philox_draw(seed, block[inv], 1 + lane[inv], index[inv])
    u = uniform_f64(x[..., 0], x[..., 1])
    p = exp(-li)
    cdf = p.copy()
    ki = np.zeros(li.shape)
    active = u > cdf
    while np.any(active):
        ki[active] += 1.0
        p[active] = (p[active] * li[active]) / ki[active]
        nxt = cdf[active] + p[active]
        stop = nxt == cdf[active]
        cdf[active] = nxt
        idx = np.flatnonzero(active)
        active[idx] = ~stop & (u[idx] > cdf[idx])
    k[inv] = ki
    # PTRS, lam >= 10
    big = lam >= 10
    lb = lam[big]
    slam = np.sqrt(lb)
    loglam = log(lb)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    log_invalpha = log(1.1239 + 1.1328 / (b - 3.4))
    vr = 0.9277 - 3.6224 / (b - 2.0)
    two_a = 2.0 * a
    kb = np.full(lb.shape, np.nan)
    pending = np.ones(lb.shape, dtype=bool)
    t = 0
    while np.any(pending):
        i = np.flatnonzero(pending)
        x = philox_draw(seed, block[big][i], 1 + 4 * t + lane[big][i], index[big][i])
        uu = uniform_f64(x[..., 0], x[..., 1]) - 0.5
        v = uniform_f64(x[..., 2], x[..., 3])
        us = 0.5 - np.abs(uu)
        kk = np.floor((((two_a[i] / us + b[i]) * uu) + lb[i]) + 0.43)
        accept = (us >= 0.07) & (v <= vr[i])
        reject = ~accept & ((kk < 0) | ((us < 0.013) & (v > us)))
        test = ~accept & ~reject
        lhs = (log(v) + log_invalpha[i]) - log(a[i] / (us * us) + b[i])
        with np.errstate(invalid="ignore", divide="ignore"):
            rhs = poisson_logpmf(np.where(test, kk, 10.0), lb[i], loglam[i])
        accept |= test & (lhs <= rhs)
        kb[i[accept]] = kk[accept]
        pending[i[accept]] = False
        t += 1
    k[big] = kb
    return k


# ---------------------------------------------------------------- add_noise
def _sigma_2d(sigma, n, m):
    s = np.asarray(sigma)
    if s.ndim == 1 and s.shape[0] == n and n != m:
        return s[:, None]
    return np.broadcast_to(s, (n, m)) if s.ndim < 2 else s


def add_noise(flux, sigma, seed, kind="gaussian", offset=0, threads=None):
    """Reference add_noise: same signature and the same bits as deepz.add_noise."""
    flux = np.asarray(flux)
    was_1d = flux.ndim == 1
    f = np.atleast_2d(flux)
    dt = f.dtype.type
    n, m = f.shape
    s = np.broadcast_to(_sigma_2d(sigma, n, m), (n, m)).astype(dt)
    index = np.uint64(offset) + np.arange(n, dtype=np.uint64)
    finite = np.isfinite(f)
    if kind == "gaussian":
        nblocks = (m + 3) // 4
        words = philox_draw(seed, np.arange(nblocks)[None, :], 0, index[:, None])  # (N, B, 4)
        z0, z1 = normal_pair(words[..., 0], words[..., 1], dt)
        z2, z3 = normal_pair(words[..., 2], words[..., 3], dt)
        z = np.stack([z0, z1, z2, z3], axis=-1).reshape(n, 4 * nblocks)[:, :m]
        noisy = np.where(finite, f + s * z, f)
        sd = s.astype(F64)
        ivar = np.where(finite, (1.0 / (sd * sd)).astype(dt), dt(0))
    else:
        pix = np.arange(m, dtype=np.uint64)[None, :]
        sd = s.astype(F64)
        fd = np.where(finite, f, 0).astype(F64)
        k = poisson_count(fd / sd, seed, pix >> np.uint64(2), pix & np.uint64(3), index[:, None])
        noisy = np.where(finite, (sd * k).astype(dt), f)
        ivar = np.where(finite, (1.0 / (sd * np.where(fd > sd, fd, sd))).astype(dt), dt(0))
    if was_1d:
        return noisy[0], ivar[0]
    return noisy, ivar
