"""coerce_cli_strings (sstsal.pipeline.config): --config strings to the schema's types."""

from __future__ import annotations

from pathlib import Path

import yaml

from sstsal.pipeline.config import coerce_cli_strings

SCHEMA = {
    "properties": {
        "chunk_frames": {"type": "integer"},
        "flow": {
            "type": "object",
            "properties": {
                "width": {"type": ["integer", "null"]},
                "raft_checkpoint": {"type": ["string", "null"]},
                "seam": {"type": "string"},
            },
        },
        "render": {"type": "object", "properties": {"alpha": {"type": "number"}, "audio": {"type": "boolean"}}},
    }
}


def test_nested_strings_become_the_schema_types():
    cfg = {
        "chunk_frames": "120",
        "flow": {"width": "640", "raft_checkpoint": "none", "seam": "wrap"},
        "render": {"alpha": ".5", "audio": "False"},
    }
    coerce_cli_strings(cfg, SCHEMA)
    assert cfg == {
        "chunk_frames": 120,
        "flow": {"width": 640, "raft_checkpoint": None, "seam": "wrap"},
        "render": {"alpha": 0.5, "audio": False},
    }
    assert isinstance(cfg["render"]["alpha"], float) and isinstance(cfg["chunk_frames"], int)


def test_values_that_do_not_fit_are_left_for_the_validation():
    cfg = {"chunk_frames": "many", "flow": {"width": "1e3"}, "render": {"alpha": "half", "audio": "yes"}}
    coerce_cli_strings(cfg, SCHEMA)
    # "1e3" is not an integer and width allows no number: the schema validation reports all four
    assert cfg == {"chunk_frames": "many", "flow": {"width": "1e3"}, "render": {"alpha": "half", "audio": "yes"}}


def test_typed_values_and_missing_keys_are_untouched():
    cfg = {"chunk_frames": 0, "flow": {"width": None}}
    coerce_cli_strings(cfg, SCHEMA)
    assert cfg == {"chunk_frames": 0, "flow": {"width": None}}


def test_the_workflow_schema_types_a_command_line_override():
    schema = yaml.safe_load((Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml").read_text())
    cfg = {"flow": {"width": "512", "method": "dis"}, "chunk_frames": "40"}
    coerce_cli_strings(cfg, schema)
    assert cfg["flow"] == {"width": 512, "method": "dis"} and cfg["chunk_frames"] == 40
