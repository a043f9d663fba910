"""Counter-based per-sample randomness: what sample ``i`` draws depends on (seed, i) only.

Every random number an observer uses for sample ``i`` (its redshift, its
template, its S/N, its masked pixels, its noise) is a pure function of the
observer's configuration, the run's ``seed`` and the global sample index
``i = offset + n``. So ``simulate(20, s)`` equals ``simulate(10, s)`` followed by
``simulate(10, s, offset=10)`` bit for bit, whatever the batch split, the
thread count or the number of DataLoader workers.

- Per-sample uniforms come from numpy's Philox-4x64 bit generator keyed by
  ``(seed, stream)``: sample ``i`` owns the counters ``i*b .. i*b + b - 1``
  (``b = ceil(k / 4)``, four 64-bit words per counter, one double per word),
  so its ``k`` uniforms are fixed. Only ``Generator.random`` is used (one word
  per double, no rejection), which keeps the word-to-sample mapping exact.
- The pixel noise comes from :func:`deepz.add_noise` (Philox-4x32-10 with the
  global index in the counter) keyed by a seed derived from ``(seed, stream)``
  with :class:`numpy.random.SeedSequence`.

Streams are small integers, one per purpose (below); observers with several
arms add the arm number.
"""

from __future__ import annotations

import numpy as np

__all__ = ["STREAM", "check_offset", "derive_seed", "uniforms"]

#: Purposes of the random streams (keys of Philox / derived noise seeds).
STREAM = {
    "draws": 1,  # z, template, S/N, distances ...
    "noise": 2,  # pixel noise (+ arm number * 16)
    "mask": 3,  # bad pixels (+ arm number * 16)
    "epoch": 4,  # per-epoch seeds of on-the-fly streams
    "pilot": 5,  # the pilot sample that fixes X_max
}

_MAX_OFFSET = 2**62


def check_offset(offset, n: int = 0) -> int:
    """Return ``offset`` as an int >= 0 with ``offset + n <= 2**62`` (or raise, naming it)."""
    if isinstance(offset, (bool, np.bool_)) or not isinstance(offset, (int, np.integer)):
        raise TypeError(f"offset must be an int >= 0, got {offset!r}")
    offset = int(offset)
    if offset < 0:
        raise ValueError(
            f"offset must be >= 0 (the global index of the first sample), got {offset}"
        )
    if offset + n > _MAX_OFFSET:
        raise ValueError(f"offset + n must be <= 2**62, got offset {offset} with n = {n}")
    return offset


def derive_seed(seed: int, *keys: int) -> int:
    """Return a 64-bit seed derived from ``seed`` and integer ``keys`` (SeedSequence hashing)."""
    ss = np.random.SeedSequence([int(seed), *[int(k) for k in keys]])
    return int(ss.generate_state(1, np.uint64)[0])


def uniforms(seed: int, stream: int, offset: int, n: int, k: int) -> np.ndarray:
    """Uniforms in [0, 1) of samples ``offset .. offset + n - 1``: shape (n, k), float64.

    Row ``j`` depends only on ``(seed, stream, offset + j, k)``.
    """
    b = (k + 3) // 4
    bitgen = np.random.Philox(key=np.array([seed, stream], dtype=np.uint64), counter=offset * b)
    return np.random.Generator(bitgen).random((n, 4 * b))[:, :k]
