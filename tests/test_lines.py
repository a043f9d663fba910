import dataclasses

import numpy as np
import pytest

from deepz import lines
from deepz.lines import (
    BY_NAME,
    CATALOGUE,
    YURCHUK_SKYRUTA,
    Line,
    air_to_vacuum,
    get,
    vacuum_to_air,
)

# Vacuum rest wavelengths the catalogue must hold (SDSS line list / NIST).
REQUIRED = {
    "Hbeta": 4862.68,
    "[OIII]4959": 4960.30,
    "[OIII]5007": 5008.24,
    "[NII]6548": 6549.86,
    "Halpha": 6564.61,
    "[NII]6583": 6585.27,
    "[SII]6716": 6718.29,
    "[SII]6731": 6732.67,
    "[OII]3726": 3727.09,
    "[OII]3729": 3729.88,
    "Lyalpha": 1215.67,
    "CIV1549": 1549.06,
    "CIII]1909": 1908.73,
    "MgII2799": 2799.49,
    "Hgamma": 4341.68,
    "Hdelta": 4102.89,
    "CaII_K": 3934.78,
    "CaII_H": 3969.59,
}

# (air, vacuum) pairs in Angstrom: the NIST/SDSS values of well-known lines.
AIR_VACUUM = [
    (6562.80, 6564.61),  # Halpha
    (4861.33, 4862.68),  # Hbeta
    (5006.84, 5008.24),  # [OIII]
    (6583.45, 6585.27),  # [NII]
    (6716.44, 6718.29),  # [SII]
    (3933.66, 3934.78),  # CaII K
    (3968.47, 3969.59),  # CaII H
]


@pytest.mark.parametrize(("name", "wave"), sorted(REQUIRED.items()))
def test_catalogue_holds_required_line(name, wave):
    assert BY_NAME[name].wave == pytest.approx(wave, abs=0.006)


def test_catalogue_is_sorted_unique_and_valid():
    waves = [line.wave for line in CATALOGUE]
    assert waves == sorted(waves)
    assert len({line.name for line in CATALOGUE}) == len(CATALOGUE)
    for line in CATALOGUE:
        assert line.kind in lines.KINDS
        assert line.strength > 0
        assert isinstance(line.broad_qso, bool)


def test_yurchuk_skyruta_is_the_eight_lines():
    assert [line.name for line in YURCHUK_SKYRUTA] == [
        "Hbeta",
        "[OIII]4959",
        "[OIII]5007",
        "[NII]6548",
        "Halpha",
        "[NII]6583",
        "[SII]6716",
        "[SII]6731",
    ]
    assert all(line.kind == "emission" for line in YURCHUK_SKYRUTA)


def test_strengths_follow_case_b_and_atomic_ratios():
    s = {line.name: line.strength for line in CATALOGUE}
    assert s["Halpha"] == 1.0
    assert s["Halpha"] / s["Hbeta"] == pytest.approx(2.86, rel=0.01)
    assert s["Hgamma"] / s["Hbeta"] == pytest.approx(0.468, rel=0.02)
    assert s["Hdelta"] / s["Hbeta"] == pytest.approx(0.259, rel=0.02)
    assert s["[NII]6583"] / s["[NII]6548"] == pytest.approx(2.94, rel=0.02)
    assert s["[OIII]5007"] / s["[OIII]4959"] == pytest.approx(2.98, rel=0.02)
    assert max(s.values()) == s["Halpha"]  # the greedy search starts with Halpha


def test_kinds_and_broad_flags():
    assert BY_NAME["CaII_K"].kind == BY_NAME["CaII_H"].kind == "absorption"
    assert BY_NAME["CaII_K"].sign == -1.0
    assert BY_NAME["Halpha"].sign == 1.0
    for name in ("Lyalpha", "CIV1549", "CIII]1909", "MgII2799", "Halpha", "Hbeta"):
        assert BY_NAME[name].broad_qso
    for name in ("[OIII]5007", "[NII]6583", "[SII]6716", "[OII]3726", "CaII_K"):
        assert not BY_NAME[name].broad_qso


def test_line_is_frozen_and_catalogue_read_only():
    with pytest.raises(dataclasses.FrozenInstanceError):
        BY_NAME["Halpha"].wave = 6563.0
    with pytest.raises(TypeError):
        BY_NAME["Halpha"] = Line("Halpha", 1.0)
    assert isinstance(CATALOGUE, tuple)


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("Halpha", "Halpha"),
        ("halpha", "Halpha"),
        ("H-alpha", "Halpha"),
        ("Ha", "Halpha"),
        ("[OIII]5007", "[OIII]5007"),
        ("OIII5007", "[OIII]5007"),
        ("oiii 5007", "[OIII]5007"),
        ("Lya", "Lyalpha"),
        ("MgII", "MgII2799"),
        ("CaK", "CaII_K"),
        ("caii k", "CaII_K"),
    ],
)
def test_get_matches_names_loosely(query, name):
    assert get(query) == (BY_NAME[name],)


def test_get_keeps_order_and_passes_lines_through():
    mine = Line("mine", 5000.0)
    assert get(["Hbeta", mine, "Halpha"]) == (BY_NAME["Hbeta"], mine, BY_NAME["Halpha"])


def test_get_unknown_name_is_named():
    with pytest.raises(ValueError, match=r"unknown line 'Hepsilon'"):
        get(["Halpha", "Hepsilon"])


def test_get_rejects_non_names():
    with pytest.raises(TypeError, match="name"):
        get([6564.61])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "", "wave": 5000.0}, "name"),
        ({"name": "x", "wave": -1.0}, "wave"),
        ({"name": "x", "wave": float("nan")}, "wave"),
        ({"name": "x", "wave": 5000.0, "kind": "both"}, "kind"),
        ({"name": "x", "wave": 5000.0, "strength": 0.0}, "strength"),
    ],
)
def test_line_validates(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Line(**kwargs)


@pytest.mark.parametrize(("air", "vac"), AIR_VACUUM)
def test_air_vacuum_known_pairs(air, vac):
    assert air_to_vacuum(air) == pytest.approx(vac, abs=0.011)
    assert vacuum_to_air(vac) == pytest.approx(air, abs=0.011)


def test_halpha_pair_to_the_hundredth():
    assert round(air_to_vacuum(6562.80), 2) == 6564.61
    assert round(vacuum_to_air(6564.61), 2) == 6562.80
    assert BY_NAME["Halpha"].air_wave == pytest.approx(6562.80, abs=0.005)


def test_air_vacuum_round_trip_and_shapes():
    vac = np.linspace(2100.0, 25000.0, 997).reshape(997, 1)
    air = vacuum_to_air(vac)
    assert air.shape == vac.shape
    assert air.dtype == np.float64
    assert np.all(air < vac)
    np.testing.assert_allclose(air_to_vacuum(air), vac, rtol=0, atol=1e-9)
    assert isinstance(air_to_vacuum(6562.8), float)


def test_uv_is_left_in_vacuum():
    uv = np.array([1215.67, 1549.06, 1908.73])
    np.testing.assert_array_equal(vacuum_to_air(uv), uv)
    np.testing.assert_array_equal(air_to_vacuum(uv), uv)


@pytest.mark.parametrize("bad", [0.0, -5.0, float("nan"), float("inf")])
def test_air_vacuum_reject_bad_wavelengths(bad):
    with pytest.raises(ValueError, match="wave"):
        air_to_vacuum(bad)
    with pytest.raises(ValueError, match="wave"):
        vacuum_to_air([5000.0, bad])
