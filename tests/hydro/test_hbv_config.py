"""HBVConfig validation, parameter declarations per variant, plugin registration."""

from __future__ import annotations

import subprocess
import sys

import attrs
import pytest

from delta_hydro.hbv.config import HBVConfig
from delta_hydro.hbv.parameters import (
    ALL_PARAMETERS,
    VARIANTS,
    dynamic_candidates,
    parameter_table,
    parameters,
)

CORE = ["BETA", "FC", "K0", "K1", "K2", "LP", "PERC", "UZL", "TT", "CFMAX", "CFR", "CWH"]

# name: (lo, hi) as in issue 3
BOUNDS = {
    "BETA": (1, 6), "FC": (50, 1000), "K0": (0.05, 0.9), "K1": (0.01, 0.5), "K2": (0.001, 0.2),
    "LP": (0.2, 1), "PERC": (0, 10), "UZL": (0, 100), "TT": (-2.5, 2.5), "CFMAX": (0.5, 10),
    "CFR": (0, 0.1), "CWH": (0, 0.2), "BETAET": (0.3, 5), "C": (0, 1), "RT": (0, 20),
    "AC": (0, 2500), "route_a": (0, 2.9), "route_b": (0, 6.5),
}


def test_defaults() -> None:
    cfg = HBVConfig()
    assert (cfg.variant, cfg.nmul, cfg.dynamic, cfg.warmup_mode, cfg.route_length, cfg.backend) == (
        "1.0", 16, (), "spinup_no_grad", 15, "auto"
    )
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        cfg.nmul = 4  # type: ignore[misc]


def test_bounds_as_in_the_issue() -> None:
    assert {p.name: (p.lo, p.hi) for p in ALL_PARAMETERS} == BOUNDS
    for p in ALL_PARAMETERS:
        assert p.units and p.description
        routing = p.name.startswith("route_")
        assert p.per_component is not routing and p.dynamic_allowed is not routing


@pytest.mark.parametrize(
    ("variant", "dynamic", "expected"),
    [
        ("1.0", (), CORE),
        ("1.0", ("BETAET",), [*CORE, "BETAET"]),
        ("1.1p", (), [*CORE, "BETAET", "C"]),
        ("2.0", (), [*CORE, "BETAET", "C", "RT", "AC"]),
    ],
)
def test_parameters_per_variant(variant: str, dynamic: tuple[str, ...], expected: list[str]) -> None:
    names = [p.name for p in parameters(variant, dynamic)]
    assert names == [*expected, "route_a", "route_b"]


def test_dynamic_is_a_tuple_and_validated_against_the_variant() -> None:
    cfg = HBVConfig(variant="1.1p", dynamic=["BETA", "K0"])  # type: ignore[arg-type]
    assert cfg.dynamic == ("BETA", "K0")
    assert HBVConfig(variant="1.0", dynamic=("BETAET",)).dynamic == ("BETAET",)
    assert HBVConfig(dynamic="BETA").dynamic == ("BETA",)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"dynamic: unknown \['C'\].*variant '1.0'"):
        HBVConfig(variant="1.0", dynamic=("C",))
    with pytest.raises(ValueError, match=r"dynamic: unknown \['RT'\]"):
        HBVConfig(variant="1.1p", dynamic=("RT",))
    assert HBVConfig(variant="2.0", dynamic=("RT", "AC")).dynamic == ("RT", "AC")
    with pytest.raises(ValueError, match=r"dynamic: unknown \['route_a'\]"):
        HBVConfig(dynamic=("route_a",))
    with pytest.raises(ValueError, match="dynamic: duplicates"):
        HBVConfig(dynamic=("BETA", "BETA"))
    assert "route_a" not in dynamic_candidates("2.0")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"variant": "1.1"}, "variant must be one of"),
        ({"nmul": 0}, "nmul must be > 0"),
        ({"nmul": 2.5}, "nmul must be an integer"),
        ({"nmul": True}, "nmul must be an integer"),
        ({"warmup_mode": "spinup"}, "warmup_mode must be one of"),
        ({"route_length": 0}, "route_length must be > 0"),
        ({"backend": "cuda"}, "backend must be one of"),
    ],
)
def test_invalid_options_name_the_field(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        HBVConfig(**kwargs)  # type: ignore[arg-type]


def test_variants() -> None:
    assert VARIANTS == ("1.0", "1.1p", "2.0")


def test_parameter_table_lists_every_parameter() -> None:
    table = parameter_table()
    lines = table.splitlines()
    assert lines[0].split()[:5] == ["name", "lo", "hi", "units", "dynamic"]
    for name, (lo, hi) in BOUNDS.items():
        row = next(line for line in lines if line.split()[0] == name)
        assert row.split()[1:3] == [f"{lo:g}", f"{hi:g}"]


def test_config_parameters_and_backends_are_torch_free() -> None:
    code = (
        "import sys\n"
        "import delta_hydro.plugin, delta_hydro.hbv.config, delta_hydro.hbv.parameters\n"
        "delta_hydro.hbv.config.HBVConfig(variant='2.0', dynamic=('RT',))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_registered_as_hydro_hbv() -> None:
    import delta_hydro.plugin
    from delta_core.plugins.manager import build_registry
    from delta_hydro.hbv.model import HBV

    registry, _ = build_registry(autoload=False, extra_plugins={"hydro": delta_hydro.plugin})
    component = registry.get("phy", "hydro.hbv")
    assert component.load() is HBV
    assert component.load_config_class() is HBVConfig
    model = component.load()(HBVConfig(variant="2.0", nmul=2))
    assert [p.name for p in model.param_specs][-4:] == ["RT", "AC", "route_a", "route_b"]


def test_model_docstring_carries_the_family_parameter_table() -> None:
    """``delta plugins show hydro.hbv`` prints the class docstring: it must hold the full table."""
    import inspect

    from delta_hydro.hbv.model import HBV

    doc = inspect.getdoc(HBV)
    assert doc is not None
    assert "\n".join("    " + line for line in parameter_table().splitlines()) in doc
