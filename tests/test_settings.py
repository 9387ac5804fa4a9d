"""The settings objects own their fields: no torch, every check, the CLI's choices; the workflow's
config schema states the same choices and bounds."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sstsal.errors import InputError
from sstsal.flow.settings import COLOR_ORDERS, METHOD_CHOICES, PRECISIONS, SEAM_MODES, FlowSettings
from sstsal.frame_size import MIN_FLOW_WIDTH, flow_working_width

REPO = Path(__file__).resolve().parents[1]


def test_settings_modules_import_no_torch():
    code = "import sys, sstsal.flow.settings, sstsal.model.settings, sstsal.frame_size; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_the_flow_cli_takes_its_choices_and_defaults_from_the_settings():
    from sstsal.cli import flow as flow_cli

    subparsers = argparse.ArgumentParser().add_subparsers()
    flow_cli.register(subparsers)
    actions = {action.dest: action for action in subparsers.choices["flow"]._actions}
    assert tuple(actions["method"].choices) == METHOD_CHOICES
    assert tuple(actions["precision"].choices) == PRECISIONS
    assert tuple(actions["seam"].choices) == SEAM_MODES
    assert tuple(actions["color_order"].choices) == COLOR_ORDERS
    defaults = FlowSettings()
    for name in ("method", "checkpoint", "iters", "seam", "device", "precision", "color_order"):
        assert actions[name].default == getattr(defaults, name), name


def test_the_cli_leaves_the_checks_to_the_settings(capsys):
    from sstsal.cli import main

    # argparse parses the number; FlowSettings refuses it, with its own message, before any work
    assert main(["flow", "--frames", "f", "--out", "o", "--iters", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: iters must be at least 1, not 0"


def test_the_config_schema_states_the_settings_choices_and_bounds():
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    flow = schema["properties"]["flow"]["properties"]
    assert set(flow["method"]["enum"]) == {*METHOD_CHOICES, "none"}  # none: the workflow runs without flow
    assert tuple(flow["precision"]["enum"]) == PRECISIONS
    assert tuple(flow["seam"]["enum"]) == SEAM_MODES
    assert tuple(flow["color_order"]["enum"]) == COLOR_ORDERS
    assert flow["width"]["minimum"] == MIN_FLOW_WIDTH


@pytest.mark.parametrize(
    ("device", "precision", "refused"),
    [("cpu", "fp32", False), ("cpu", "bf16", False), ("cpu", "fp16", True), ("cuda:0", "fp16", False)],
)
def test_precision_is_checked_against_the_device(device: str, precision: str, refused: bool):
    settings = FlowSettings(method="raft", precision=precision)
    if refused:
        with pytest.raises(InputError, match=f"precision {precision} is for CUDA"):
            settings.on(device)
    else:
        assert settings.on(device).device == device


def test_on_decides_auto_from_the_resolved_device():
    assert FlowSettings(method="auto").on("cpu").method == "dis"
    assert FlowSettings(method="auto").on("cuda:1").method == "raft"
    assert FlowSettings(method="farneback", precision="fp16").on("cpu").method == "farneback"  # no RAFT, no autocast
    with pytest.raises(ValueError, match="resolve the device first"):
        FlowSettings().on("auto")


def test_the_flow_width_is_capped_and_bounded_in_one_place():
    assert flow_working_width(4096, 1920) == 1920 and flow_working_width(None, 1920) == 1920
    assert flow_working_width(1024, 1920) == 1024 and flow_working_width(None, None) is None
    with pytest.raises(InputError, match=f"use at least {MIN_FLOW_WIDTH}"):
        FlowSettings(width=MIN_FLOW_WIDTH - 1)
    assert FlowSettings(width=MIN_FLOW_WIDTH).width == MIN_FLOW_WIDTH
