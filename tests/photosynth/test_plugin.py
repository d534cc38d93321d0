"""Registration, configuration from YAML-like data, and the torch-free modules."""

from __future__ import annotations

import subprocess
import sys

import pytest

from delta_core.config.converter import make_converter
from delta_core.plugins.manager import build_registry
from delta_photosynth.config import C4Config, FvCBConfig, TemperatureResponse

TORCH_FREE = (
    "delta_photosynth.plugin",
    "delta_photosynth.config",
    "delta_photosynth.data.columns",
    "delta_photosynth.data.readers",
    "delta_photosynth.data.canonical",
    "delta_photosynth.data.cli",
    "delta_photosynth.synthetic.config",
    "delta_photosynth.synthetic.dataset_config",
    "delta_photosynth.synthetic.cli",
)


def test_components_are_registered() -> None:
    registry, _ = build_registry()
    from delta_photosynth.c4 import C4
    from delta_photosynth.fvcb import FvCB

    assert registry.get("phy", "photosynth.fvcb").load() is FvCB
    assert registry.get("phy", "photosynth.c4").load() is C4


def test_configuration_structures_from_plain_data() -> None:
    registry, _ = build_registry()
    conv = make_converter(registry)
    config = conv.structure({"mode": "coupled", "stomatal": "ball_berry", "optional_forcings": ["gbw"],
                             "temperature": {"Vcmax": {"kind": "arrhenius", "Ha": 65330}},
                             "learn": ["Ha_Vcmax", "alpha"], "solver": {"max_newton": 10}}, FvCBConfig)
    assert config.temperature["Vcmax"] == TemperatureResponse(kind="arrhenius", Ha=65330.0)
    assert config.temperature["Jmax"].kind == "peaked"  # the others keep their defaults
    assert config.solver.max_newton == 10 and config.learn == ("Ha_Vcmax", "alpha")
    with pytest.raises(Exception, match="unknown rates"):
        FvCBConfig(temperature={"Vmax": TemperatureResponse()})
    with pytest.raises(ValueError, match="only used in the coupled mode"):
        FvCBConfig(optional_forcings=("gbw",))
    with pytest.raises(ValueError, match="Hd > 0"):
        TemperatureResponse(kind="peaked", Ha=1.0)
    assert C4Config(learn=("Q10_Vcmax",)).learn == ("Q10_Vcmax",)
    with pytest.raises(ValueError, match="unknown"):
        C4Config(learn=("Ha_Vcmax",))  # C4 Vcmax uses a Q10 response by default


def test_cli_and_configuration_modules_do_not_import_torch() -> None:
    code = "import sys\n" + "".join(f"import {m}\n" for m in TORCH_FREE) + "print('torch' in sys.modules)\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
