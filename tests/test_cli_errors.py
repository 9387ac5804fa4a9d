"""Every ``sstsal`` subcommand answers a missing or wrong input with one ``error:`` line, exit code
2 and no traceback, before any work."""

from __future__ import annotations

import pytest

from sstsal.cli import build_parser, main

MISSING = "/nonexistent/sstsal-test"


def commands(tmp_path, clip: str) -> dict[str, list[list[str]]]:
    """{subcommand: argument lists that each name a missing or wrong input}."""
    out = str(tmp_path / "out")
    not_npz = tmp_path / "notes.txt"
    not_npz.write_text("not a stack\n")
    return {
        "demo-data": [[f"{not_npz}/videos"]],  # a folder inside a file cannot be made
        "director": [[MISSING + ".mp4", "--maps", MISSING, "--out", out + ".mp4"],
                     [clip, "--maps", MISSING + ".npz", "--out", out + ".mp4"],
                     [clip, "--maps", str(not_npz), "--out", out + ".mp4"]],
        "download": [["--from", MISSING]],
        "evaluate": [["--pred", MISSING, "--gt", MISSING, "--out", out + ".csv"]],
        "extract": [[MISSING + ".mp4", "--out", out], [str(not_npz), "--out", out]],
        "flow": [["--frames", MISSING, "--out", out, "--method", "dis"]],
        "groundtruth": [[MISSING + ".csv", "--out", out, "--name", "x", "--fps", "30", "--frame-count", "10"]],
        "predict": [["--frames", MISSING, "--out", out, "--no-flow"]],
        "render": [[clip, "--maps", MISSING, "--out", out + ".mp4"],
                   [MISSING + ".mp4", "--maps", MISSING, "--out", out + ".mp4"],
                   [clip, "--maps", str(not_npz), "--out", out + ".mp4"]],
        "train": [["--data", MISSING, "--out", out, "--epochs", "1"]],
        "validate": [["--frames", MISSING]],
        "tiles": [["--maps", MISSING + ".npz", "--out", out + ".csv", "--fps", "30", "--frame-count", "10"],
                  ["--maps", str(not_npz), "--out", out + ".csv", "--fps", "30", "--frame-count", "10"]],
        "encode": [[MISSING + ".mp4", "--tiles", MISSING + ".csv", "--out", out],
                   [clip, "--tiles", MISSING + ".csv", "--out", out]],
        "view": [[MISSING], [str(not_npz)]],
        "viewer": [[clip, "--maps", MISSING, "--out", out + ".html"],
                   [MISSING + ".mp4", "--maps", MISSING, "--out", out + ".html"]],
    }  # fmt: skip


def test_every_subcommand_is_covered(tmp_path):
    parser = build_parser()
    choices = next(a.choices for a in parser._actions if a.dest == "command")
    assert sorted(choices) == sorted(commands(tmp_path, "clip.mp4"))


@pytest.mark.parametrize(
    "command",
    ["demo-data", "director", "download", "encode", "evaluate", "extract", "flow", "groundtruth", "predict", "render",
     "tiles", "train", "validate", "view", "viewer"],
)  # fmt: skip
def test_missing_or_wrong_input_is_one_error_line(command, tmp_path, capfd):
    from videoclips import make_clip

    clip = str(make_clip(tmp_path / "clip.mp4", width=64, height=32, seconds=0.3))
    for args in commands(tmp_path, clip)[command]:
        code = main([command, *args])
        captured = capfd.readouterr()
        errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
        assert code == 2, (args, captured.err)
        assert len(errors) == 1, (args, captured.err)
        assert "Traceback" not in captured.err
        # checked before work: nothing but the error line (no probe of the video first)
        assert captured.err.strip() == errors[0], (args, captured.err)
        assert not (tmp_path / "out").exists() and not (tmp_path / "out.mp4").exists()
