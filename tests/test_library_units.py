"""The library's bookkeeping (sstsal.pipeline.library) and the small user-facing fixes around it:
exclude patterns, failure records, the closing table, `sstsal download` naming every missing
checkpoint, provenance saying what stood in for flow, `make run`'s closing line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sstsal.cli import main
from sstsal.pipeline.library import (
    FILE_FAULT,
    MACHINE_FAULT,
    VideoOutcome,
    excluded_by,
    failure_path,
    fault_of,
    machine_fault,
    outcomes,
    read_failure,
    report_sizes_mb,
    report_suggestion,
    report_text,
    run_table,
    select_videos,
    videos_folder,
    write_failure,
)
from sstsal.pipeline.provenance import gather
from tests.conftest import shared_path

REPO = Path(__file__).resolve().parents[1]


def test_videos_folder_has_one_spelling(tmp_path, monkeypatch):
    tmp_path = tmp_path.resolve()
    work = tmp_path / "work"
    (work / "lib").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    monkeypatch.chdir(work)
    spellings = ["lib", "./lib/", str(work / "lib" / ".." / "lib"), f"{work}//lib/"]
    assert {videos_folder(s) for s in spellings} == {Path("lib")}  # inside: relative, the project can move
    assert {videos_folder(s) for s in ("../outside", str(tmp_path / "outside") + "/")} == {tmp_path / "outside"}
    # a symlink names the folder it points to: it plans what that folder plans
    os.symlink(tmp_path / "outside", tmp_path / "link")
    assert videos_folder("../link") == videos_folder(str(tmp_path / "link") + "/") == tmp_path / "outside"
    os.symlink(tmp_path / "outside", work / "drive")  # a link inside the project to a folder outside
    assert videos_folder("drive") == tmp_path / "outside"
    os.symlink(work / "lib", tmp_path / "back")  # a link outside the project to a folder inside
    assert videos_folder(str(tmp_path / "back")) == Path("lib")


def test_exclude_patterns_are_case_insensitive_globs():
    assert excluded_by("Test1.MOV", ["*.txt", "test?.mov"]) == "test?.mov"
    assert excluded_by("clip_raw.mp4", ["*_raw.mp4"]) == "*_raw.mp4"
    assert excluded_by("clip.mp4", ["*_raw.mp4"]) is None


def test_a_failed_source_stays_failed_until_it_changes(tmp_path):
    source = tmp_path / "bad.mp4"
    source.write_bytes(b"")
    good = tmp_path / "good.mp4"
    good.write_bytes(b"x")
    results = tmp_path / "results"
    write_failure(failure_path(results, "bad"), video="bad", rule="probe", reason="cannot read video\nmore",
                  log="logs/probe/bad.log", source=str(source))  # fmt: skip
    selection = select_videos({"bad": str(source), "good": str(good)}, exclude=[], results=results)
    assert list(selection.videos) == ["good"]
    assert "failed before (probe: cannot read video; log: logs/probe/bad.log)" in selection.skipped["bad"]
    os.utime(source, ns=(0, source.stat().st_mtime_ns + 10**9))  # replaced or touched: tried again
    assert list(select_videos({"bad": str(source)}, exclude=[], results=results).videos) == ["bad"]
    # the sample sheet's exclude column
    assert select_videos({"good": str(good)}, exclude=[], results=results, sheet_excluded={"good"}).skipped == {
        "good": "excluded by the sample sheet (column `exclude`)"}  # fmt: skip
    # an error of a later stage is retried on every run
    write_failure(failure_path(results, "good"), video="good", rule="inference", reason="out of memory",
                  log="logs/inference/good.log", source=str(good))  # fmt: skip
    assert list(select_videos({"good": str(good)}, exclude=[], results=results).videos) == ["good"]


def test_machine_faults_are_told_from_the_file_s_own():
    import errno
    import subprocess

    from sstsal.errors import InputError

    def raised_from(cause: BaseException) -> InputError:
        try:
            try:
                raise cause
            except BaseException as inner:
                raise InputError("cannot write the frames") from inner
        except InputError as outer:
            return outer

    machine = {
        OSError(errno.ENOSPC, "No space left on device"): "the disk is full (ENOSPC)",
        OSError(errno.EDQUOT, "Disk quota exceeded"): "the disk quota is used up (EDQUOT)",
        MemoryError(): "out of memory",
        PermissionError(errno.EACCES, "Permission denied"): "permission denied (EACCES)",
        FileNotFoundError(errno.ENOENT, "No such file or directory", "ffmpeg"): "a file or tool is missing (ENOENT)",
        subprocess.CalledProcessError(-9, ["ffmpeg"]): "a tool was killed (out of memory, or stopped)",
        raised_from(OSError(errno.ENOSPC, "No space left on device")): "the disk is full (ENOSPC)",
    }
    for exc, said in machine.items():
        assert machine_fault(exc) == said and fault_of(exc) == MACHINE_FAULT, exc
    for exc in (InputError("no frame could be decoded: the file is corrupt"), ValueError("a layout it cannot have"),
                OSError("could not write"), subprocess.CalledProcessError(1, ["ffmpeg"])):  # fmt: skip
        assert machine_fault(exc) is None and fault_of(exc) == FILE_FAULT, exc


def test_a_machine_fault_of_a_source_stage_is_retried_and_the_table_says_so(tmp_path):
    results = tmp_path / "results"
    sources = {}
    for video in ("full", "broken"):
        sources[video] = str(tmp_path / f"{video}.mp4")
        Path(sources[video]).write_bytes(b"x")
    write_failure(failure_path(results, "full"), video="full", rule="extract_frames", log="logs/extract_frames/full.log",
                  reason="OSError: [Errno 28] No space left on device", source=sources["full"], fault=MACHINE_FAULT)  # fmt: skip
    write_failure(failure_path(results, "broken"), video="broken", rule="probe", log="logs/probe/broken.log",
                  reason="cannot read video", source=sources["broken"])  # fmt: skip
    assert read_failure(failure_path(results, "full")).fault == MACHINE_FAULT
    selection = select_videos(sources, exclude=[], results=results)
    assert list(selection.videos) == ["full"] and list(selection.skipped) == ["broken"]  # only the file's fault is remembered
    rows = outcomes(["full"], selection.skipped, outputs=lambda v: [str(results / v / "out.txt")], results=results)
    table = run_table(rows).splitlines()
    assert "extract_frames: OSError: [Errno 28] No space left on device (the machine's fault, not the file's: the next " \
           "run tries again; log: logs/extract_frames/full.log)" in table[1]
    assert "broken" in table[2] and "failed before (probe: cannot read video" in table[2]
    # a record written before faults were told apart reads as the file's
    record = failure_path(results, "broken")
    data = json.loads(record.read_text())
    del data["fault"]
    record.write_text(json.dumps(data))
    assert read_failure(record).fault == FILE_FAULT and read_failure(record).sticky


def test_a_job_failing_for_a_full_disk_says_so_in_one_line_and_records_the_machine(tmp_path, capsys):
    import errno

    from sstsal.pipeline.job import job_log

    source = tmp_path / "v.mp4"
    source.write_bytes(b"x")
    record = failure_path(tmp_path / "results", "v")
    with pytest.raises(SystemExit) as stopped:
        with job_log(tmp_path / "job.log", rule="extract_frames", failure={"path": record, "video": "v", "source": str(source)}):
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "v_0000.png"))
    assert stopped.value.code == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0] and "the disk is full (ENOSPC)" in errors[0]
    assert "run the same command again" in errors[0]
    failure = read_failure(record)
    assert failure.fault == MACHINE_FAULT and not failure.sticky and failure.rule == "extract_frames"
    assert "Traceback" in (tmp_path / "job.log").read_text()  # kept in the log, not on the console


def test_outcomes_and_closing_table(tmp_path):
    results, logs = tmp_path / "results", tmp_path / "logs"
    (results / "ok").mkdir(parents=True)
    (results / "ok" / "out.txt").write_text("done")
    write_failure(failure_path(results, "ok"), video="ok", rule="render", reason="old", log="x")  # an earlier failure
    write_failure(failure_path(results, "bad"), video="bad", rule="probe", reason="cannot read video", log="logs/probe/bad.log")
    (logs / "inference").mkdir(parents=True)
    (logs / "inference" / "killed.log").write_text("Killed\n")
    rows = outcomes(["ok", "bad", "killed"], {"raw": "excluded by the pattern '*_raw.mp4'"},
                    outputs=lambda v: [str(results / v / "out.txt")], results=results, logs=logs)  # fmt: skip
    assert [(r.video, r.status) for r in rows] == [("ok", "finished"), ("bad", "failed"), ("killed", "unfinished"),
                                                   ("raw", "skipped")]  # fmt: skip
    assert read_failure(failure_path(results, "ok")) is None, "a finished video keeps no failure record"
    table = run_table(rows).splitlines()
    assert table[0] == "videos: 1 finished, 1 failed, 1 unfinished, 1 skipped"
    assert table[2].split() == ["failed", "bad", "probe:", "cannot", "read", "video", "(the", "next", "run", "tries",
                                "again;", "log:", "logs/probe/bad.log)"]  # fmt: skip
    assert str(logs / "inference" / "killed.log") in table[3]
    text = report_text(rows + [VideoOutcome("w", "finished", "", ("probe: 16:9, not 2:1",))])
    assert "Not in this report (3)" in text and "``bad``: failed: probe: cannot read video" in text
    assert "not 2:1" in text


def test_report_suggestion_is_the_zip_above_a_size():
    from sstsal.pipeline.library import REPORT_HTML_MAX_MB, REPORT_PAGE_MB

    small = report_suggestion(int(9e6))  # five short clips' results
    assert small == f"a report of the finished videos: snakemake --report report.html (about {REPORT_PAGE_MB + 12:.1f} MB)"
    at_limit = int((REPORT_HTML_MAX_MB - REPORT_PAGE_MB) * 3 / 4 * 1e6)
    assert "report.html" in report_suggestion(at_limit) and "report.zip" in report_suggestion(at_limit + 1000)
    big = report_suggestion(int(150e6))  # 100 videos' results
    html_mb, zip_mb = report_sizes_mb(int(150e6))
    assert html_mb == REPORT_PAGE_MB + 200 and zip_mb == pytest.approx(150.6)
    assert "snakemake --report report.zip (about 150.6 MB; unzip it and open report/report.html" in big
    assert "about 203 MB" in big and "report.html (about" not in big


def test_download_from_a_folder_missing_a_checkpoint_fails_naming_it(tmp_path):
    folder = tmp_path / "some"
    folder.mkdir()
    shutil.copy2(shared_path("models/SST_Sal.pth"), folder / "SST_Sal.pth")
    env = {k: v for k, v in os.environ.items() if k != "SSTSAL_MODELS"}
    env.update(SSTSAL_CACHE=str(tmp_path / "cache"), PYTHONPATH=str(REPO))
    run = subprocess.run([sys.executable, "-m", "sstsal", "download", "--from", str(folder)], env=env,
                         capture_output=True, text=True)  # fmt: skip
    assert run.returncode != 0, run.stdout + run.stderr
    assert run.stderr.startswith("error:") and "SST_Sal_wo_OF.pth" in run.stderr and len(run.stderr.splitlines()) == 1
    assert (tmp_path / "cache" / "models" / "SST_Sal.pth").is_file()  # what was there is copied


def test_offline_download_names_every_missing_checkpoint(tmp_path, monkeypatch, capsys):
    import sstsal.model.weights as weights

    monkeypatch.delenv("SSTSAL_MODELS", raising=False)
    monkeypatch.setenv("SSTSAL_CACHE", str(tmp_path))
    for name, spec in list(weights.CHECKPOINTS.items()):  # nothing answers at this address: offline
        monkeypatch.setitem(weights.CHECKPOINTS, name, weights.PublishedFile(spec.name, f"http://127.0.0.1:9/{name}",
                                                                             spec.sha256, spec.size))  # fmt: skip
    assert main(["download"]) != 0
    error = capsys.readouterr().err
    assert "SST_Sal.pth and SST_Sal_wo_OF.pth" in error and "make run SSTSAL_MODELS=DIR" in error, error


@pytest.mark.parametrize(("flow", "inputs", "expected"), [
    ("none", None, "none (flow.method: none, the model without flow)"),
    ("dis", "/data/flow", "given (inputs.flow: /data/flow)"),
])  # fmt: skip
def test_provenance_says_what_stood_in_for_flow(flow, inputs, expected):
    data = gather([], video="v", config={"flow": {"method": flow}, "inputs": {"flow": inputs}}, source=None)
    assert data["flow"]["method"] == expected


def test_make_run_names_every_result():
    out = subprocess.run(["make", "-n", "run"], cwd=REPO, capture_output=True, text=True).stdout
    line = next(line for line in out.splitlines() if "Results are in" in line)
    for name in ("overlay.mp4", "director.mp4", "viewer.html", "contact_sheet.png", "directions.csv", "provenance.json"):
        assert name in line, name
