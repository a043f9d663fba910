"""How many threads the compiled kernels use.

Every kernel takes ``threads=None``; ``None`` means the process-wide default,
which is, in order: the value given to :func:`set_num_threads`, the
``DEEPZ_NUM_THREADS`` environment variable, or all the cores this process may
run on. Results never depend on the thread count: each spectrum is computed by
the same code whichever thread runs it.
"""

from __future__ import annotations

import os

__all__ = ["get_num_threads", "resolve_threads", "set_num_threads"]

_num_threads: int | None = None


def _available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _check(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def set_num_threads(n: int | None) -> None:
    """Set the default thread count of the kernels (``None`` restores the default)."""
    global _num_threads
    _num_threads = None if n is None else _check(n, "n")


def get_num_threads() -> int:
    """Return the thread count the kernels use when called with ``threads=None``."""
    if _num_threads is not None:
        return _num_threads
    env = os.environ.get("DEEPZ_NUM_THREADS", "").strip()
    if env:
        try:
            return _check(int(env), "DEEPZ_NUM_THREADS")
        except ValueError as err:
            raise ValueError(f"DEEPZ_NUM_THREADS must be a positive integer, got {env!r}") from err
    return _available_cores()


def resolve_threads(threads: int | None) -> int:
    """Return ``threads`` checked, or the default when it is ``None``."""
    return get_num_threads() if threads is None else _check(threads, "threads")
