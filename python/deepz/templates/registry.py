"""A small registry of the built-in libraries: :func:`load` by name, :func:`default_library`."""

from __future__ import annotations

from collections.abc import Callable

from .galaxies import galaxies
from .library import TemplateLibrary, concatenate
from .loaders import kcorrect_templates
from .qsos import qsos
from .stellar import stars

__all__ = ["available", "default_library", "load", "register"]

_REGISTRY: dict[str, Callable[..., TemplateLibrary]] = {}


def register(name: str):
    """Make a library constructor available to :func:`load` as ``name`` (a decorator).

    Raises
    ------
    ValueError
        If ``name`` is taken or empty.

    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")

    def deco(fn):
        if name in _REGISTRY:
            raise ValueError(f"a template library named {name!r} is already registered")
        _REGISTRY[name] = fn
        return fn

    return deco


def available() -> tuple[str, ...]:
    """Names :func:`load` knows."""
    return tuple(sorted(_REGISTRY))


def load(name: str, **kwargs) -> TemplateLibrary:
    """Build or read a library by name.

    Parameters
    ----------
    name : str
        ``"galaxies"``, ``"stars"``, ``"qsos"``, ``"kcorrect"``, ``"default"``
        or a name added with :func:`register`.
    **kwargs
        Passed to the constructor (``n``, ``seed``, ``wave`` ... see
        :func:`galaxies`, :func:`stars`, :func:`qsos`,
        :func:`kcorrect_templates`, :func:`default_library`).

    Returns
    -------
    TemplateLibrary

    Raises
    ------
    ValueError
        An unknown name (the message lists the known ones).

    Examples
    --------
    >>> load("stars", n=5, seed=1).classes
    {'STAR': 5}

    """
    try:
        fn = _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"name: unknown template library {name!r}; known: {', '.join(available())}"
        ) from None
    return fn(**kwargs)


def default_library(
    seed: int = 0,
    *,
    n_galaxies: int = 200,
    n_stars: int = 50,
    n_qsos: int = 50,
    wave=None,
    z_ref: float = 0.0,
) -> TemplateLibrary:
    """Galaxies, stars and QSOs on one grid: the library the simulators draw from by default.

    Parameters
    ----------
    seed : int
        Seed (>= 0); the three parts use ``seed``, ``seed + 1`` and ``seed + 2``.
    n_galaxies, n_stars, n_qsos : int
        How many of each (>= 1).
    wave : array_like, optional
        Common rest-frame grid; default: the package's default grid.
    z_ref : float
        Passed to :func:`galaxies`.

    Returns
    -------
    TemplateLibrary
        Galaxies first, then stars, then QSOs; all in erg/s/cm^2/A at 10 pc.

    """
    parts = [
        galaxies(n_galaxies, seed, wave, z_ref=z_ref),
        stars(n_stars, seed + 1, wave),
        qsos(n_qsos, seed + 2, wave),
    ]
    return concatenate(parts, name="default")


register("galaxies")(galaxies)
register("stars")(stars)
register("qsos")(qsos)
register("kcorrect")(kcorrect_templates)
register("default")(default_library)
