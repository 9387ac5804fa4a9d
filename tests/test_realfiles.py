"""Real 360-degree files as cameras, SDKs and websites write them.

Two public samples of the Google VR SDK (fetched by tests/testdata.py, sha256-pinned): congo.mp4
(top-bottom stereo whose eyes are stored squeezed, 1920x540 each, V1 metadata) and sphericalv2.mp4
(a VR180 camera clip: V2 mesh projection ``mshp`` plus V1 XML with crop bounds). Variants no public
file covers are made from them and from the test clip with the bundled ffmpeg and our metadata
writer: the samples without metadata, squeezed side by side, 16:9 with V2 only, the VR180 clip
with only its V1 XML or only its mesh, a plain 3x2 cubemap and EAC, a dual fisheye that fills the
frame, an HLS ``.ts`` segment and an Insta360-named ``.insv``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from testdata import sample_video
from videoclips import FFMPEG, make_clip

from sstsal.errors import InputError
from sstsal.media.frames import extract_frames
from sstsal.media.projection import decide_layout, detect_from_content
from sstsal.media.spherical_metadata import (
    V1_UUID,
    SphericalMetadata,
    _read_moov,
    _sample_entries,
    _video_traks,
    inject_spherical_metadata,
    read_spherical_metadata,
)
from sstsal.media.video import VIDEO_SUFFIXES, _header, discover_videos, left_out_files, probe_video

ENCODE = ["-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "14", "-pix_fmt", "yuv420p"]
# The V1 crop of sphericalv2.mp4 (CroppedArea* / FullPano* pixels: 876, 328, 1072x754 of 2824x1412)
VR180_BOUNDS = (328 / 1412, 1 - (328 + 754) / 1412, 876 / 2824, 1 - (876 + 1072) / 2824)


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-y", *args], check=True)


def side_data(path: Path) -> str:
    return "\n".join(ln.strip() for ln in _header(path).splitlines() if "Spherical Mapping" in ln or "Stereo 3D" in ln)


def rewrite_boxes(source: Path, out: Path, *, keep_v1: bool = True, keep_v2: bool = True, boxes_from: Path | None = None) -> Path:
    """``source`` with its V1 XML and/or V2 boxes dropped, or with those of ``boxes_from`` put in
    (a stream copy loses them). Needs ``moov`` after the media data, as in both samples."""
    moov, top = _read_moov(source)
    trak = _video_traks(moov)[0]
    entry = _sample_entries(trak)[0]
    if boxes_from is not None:
        donor_moov, _ = _read_moov(boxes_from)
        donor = _video_traks(donor_moov)[0]
        entry.children += [c for c in _sample_entries(donor)[0].children if c.kind in (b"st3d", b"sv3d")]
        trak.children += [c for c in donor.children if c.kind == b"uuid" and c.extended == V1_UUID]
    if not keep_v2:
        entry.children = [c for c in entry.children if c.kind not in (b"st3d", b"sv3d")]
    if not keep_v1:
        trak.children = [c for c in trak.children if not (c.kind == b"uuid" and c.extended == V1_UUID)]
    assert [t[0] for t in top].index(b"moov") > [t[0] for t in top].index(b"mdat")
    with open(source, "rb") as src, open(out, "wb") as dst:
        for kind, offset, _header_size, size in top:
            if kind == b"moov":
                dst.write(moov.serialize())
            else:
                src.seek(offset)
                dst.write(src.read(size))
    return out


@pytest.fixture(scope="module")
def samples() -> dict[str, Path]:
    return {name: sample_video(name) for name in ("congo.mp4", "sphericalv2.mp4")}


@pytest.fixture(scope="module")
def made(tmp_path_factory, samples, shared) -> dict[str, Path]:
    """The variants, 2 seconds each (stream copies keep the samples' own coding)."""
    folder = tmp_path_factory.mktemp("realfiles")
    congo, vr180 = samples["congo.mp4"], samples["sphericalv2.mp4"]
    out: dict[str, Path] = {}
    # congo, 2 s, stream copy: the copy loses the V1 box, our writer puts it back (as the file has it)
    ffmpeg("-t", "2", "-i", str(congo), "-map", "0:v", "-c", "copy", str(folder / "congo_plain.mp4"))
    out["congo_plain"] = folder / "congo_plain.mp4"
    out["congo"] = inject_spherical_metadata(out["congo_plain"], folder / "congo.mp4", stereo="top-bottom", v2=False)
    # congo's eyes side by side, squeezed back into 1920x1080 (each eye 960x1080), no metadata
    ffmpeg("-i", str(out["congo_plain"]), "-filter_complex",
           "[0]crop=iw:ih/2:0:0[a];[0]crop=iw:ih/2:0:ih/2[b];[a][b]hstack,scale=1920:1080", *ENCODE,
           str(folder / "congo_lr.mp4"))  # fmt: skip
    out["congo_lr"] = folder / "congo_lr.mp4"
    # its left eye at 16:9: with V2 mono equi only, and without metadata
    ffmpeg("-i", str(out["congo_plain"]), "-vf", "crop=iw:ih/2:0:0,scale=1280:720", *ENCODE, str(folder / "wide_plain.mp4"))
    out["wide_plain"] = folder / "wide_plain.mp4"
    out["wide_v2"] = inject_spherical_metadata(out["wide_plain"], folder / "wide_v2.mp4", stereo="mono", v1=False)
    # its left eye as a plain 3x2 cubemap, as EAC, as a dual fisheye that fills the frame (no metadata)
    for name, graph in (("cubemap", "v360=e:c3x2:w=1152:h=768"), ("eac", "v360=e:eac:w=1152:h=768"),
                        ("fisheye", "v360=e:dfisheye:w=1536:h=768")):  # fmt: skip
        ffmpeg("-i", str(out["congo_plain"]), "-vf", f"crop=iw:ih/2:0:0,scale=1920:960,{graph}", *ENCODE,
               str(folder / f"congo_{name}.mp4"))  # fmt: skip
        out[f"congo_{name}"] = folder / f"congo_{name}.mp4"
    # the test clip as a plain cubemap and a full-frame dual fisheye (its own room, no metadata)
    room = shared / "videos" / "testRoom1_1920Mono.mp4"
    for name, graph in (("room_cubemap", "v360=e:c3x2:w=576:h=384"), ("room_fisheye", "v360=e:dfisheye:w=512:h=256")):
        ffmpeg("-t", "2", "-i", str(room), "-vf", f"scale=512:256:flags=area,{graph}", *ENCODE, str(folder / f"{name}.mp4"))
        out[name] = folder / f"{name}.mp4"
    # an HLS segment: top-bottom stereo 2048x2048 in MPEG-TS; an Insta360-named raw dual fisheye
    ffmpeg("-i", str(out["congo_plain"]), "-vf", "scale=2048:2048", *ENCODE, "-f", "mpegts", str(folder / "segment.ts"))
    out["segment"] = folder / "segment.ts"
    shutil.copy(out["room_fisheye"], folder / "VID_20250101_000000_00_001.insv")
    out["insv"] = folder / "VID_20250101_000000_00_001.insv"
    # the VR180 clip, 2 s: the copy gets the sample's own boxes back (mesh + V1), then one of each only
    ffmpeg("-t", "2", "-i", str(vr180), "-map", "0:v", "-c", "copy", str(folder / "vr180_plain.mp4"))
    out["vr180"] = rewrite_boxes(folder / "vr180_plain.mp4", folder / "vr180.mp4", boxes_from=vr180)
    out["vr180_v1"] = rewrite_boxes(out["vr180"], folder / "vr180_v1.mp4", keep_v2=False)
    out["vr180_mesh"] = rewrite_boxes(out["vr180"], folder / "vr180_mesh.mp4", keep_v1=False)
    return out


# ---- the samples as they are --------------------------------------------------------------


def test_congo_squeezed_eyes_map_onto_the_whole_sphere(samples):
    info = probe_video(samples["congo.mp4"])
    layout = info.spherical
    assert (layout["projection"], layout["stereo"], info.metadata["version"]) == ("equirectangular", "top-bottom", "v1")
    assert info.view_width == 2 * info.view_height == 1920
    assert "stored at 1920x540 (3.56:1)" in layout["reasons"]["aspect"] and "1920x960 view" in layout["reasons"]["aspect"]
    assert info.layout.filter_string() == "crop=w=1920:h=540:x=0:y=0,scale=w=1920:h=960:flags=area"


def test_vr180_mesh_sample_is_read_and_taken_by_its_v1_crop(samples):
    path = samples["sphericalv2.mp4"]
    meta = read_spherical_metadata(path)
    # the mesh box read by us: two meshes (one per eye) of 1600 vertices, about 142 x 95 degrees
    meshes = meta.mesh["meshes"]
    assert meta.mesh["encoding"] == "dfl8" and [m["vertices"] for m in meshes] == [1600, 1600]
    assert all(140 < m["degrees_wide"] < 145 and 92 < m["degrees_high"] < 97 for m in meshes)
    assert (meta.projection, meta.projection_from, meta.stereo) == ("equirectangular", "v1", "top-bottom")
    assert meta.bounds == pytest.approx(VR180_BOUNDS)
    assert "Unknown projection type: mshp" in _header(path)  # ffmpeg's reader does not know it ...
    info = probe_video(path)  # ... and that is no damage
    layout = info.spherical
    assert (layout["projection"], layout["stereo"], layout["full_sphere"]) == ("equirectangular", "top-bottom", False)
    assert "V1 (its crop description" in layout["reasons"]["projection"]
    assert info.input_options == {"bsf:v": "filter_units=remove_types=6"}  # see test_vr180_v1_twin_decodes


def test_vr180_v1_twin_decodes_its_frames(made, tmp_path):
    """The V1-only twin: ffmpeg decodes every frame (its filters refuse them as decoded, since the
    stream's stereo SEI repeats the container's stereo metadata); never called corrupt."""
    info = probe_video(made["vr180_v1"])
    assert info.metadata["version"] == "v1" and info.spherical["bounds"] == pytest.approx(VR180_BOUNDS)
    names = extract_frames(made["vr180_v1"], tmp_path / "f", info=info, progress=False)
    assert len(names) == len(range(0, info.frame_count, 4))
    frame = cv2.imread(str(tmp_path / "f" / names[0]))
    assert frame[:, 160].mean() > 20 and frame[:, :40].max() < 20  # the front is seen, the back is black


def test_mesh_without_v1_is_refused_as_a_mesh_not_as_corrupt(made):
    with pytest.raises(InputError) as refused:
        probe_video(made["vr180_mesh"])
    message = str(refused.value)
    assert "mesh projection" in message and "2 mesh(es) (dfl8, 142x94.4 degrees" in message
    assert "set projection half-equirectangular" in message and "top-bottom" in message and "sample sheet" in message
    assert "corrupt" not in message and "truncated" not in message
    info = probe_video(made["vr180_mesh"], sheet={"projection": "half-equirectangular"})
    assert (info.spherical["projection"], info.spherical["stereo"]) == ("half-equirectangular", "top-bottom")


# ---- content detection on real footage ------------------------------------------------------

DETECTED = {
    "congo_plain": ("equirectangular", "top-bottom"),  # squeezed 3.56:1 eyes, no metadata
    "congo_lr": ("equirectangular", "left-right"),  # squeezed 0.89:1 eyes
    "wide_plain": ("equirectangular", "mono"),  # 16:9 mono, no metadata
    "congo_cubemap": ("cubemap-3x2", "mono"),
    "congo_eac": ("eac", "mono"),
    "congo_fisheye": ("dual-fisheye", "mono"),
    "room_cubemap": ("cubemap-3x2", "mono"),
    "room_fisheye": ("dual-fisheye", "mono"),
    "segment": ("equirectangular", "top-bottom"),
    "insv": ("dual-fisheye", "mono"),
}


@pytest.mark.parametrize("name", sorted(DETECTED))
def test_layouts_told_from_the_content_of_real_footage(made, name):
    info = probe_video(made[name])
    reasons = info.spherical["reasons"]
    assert (info.spherical["projection"], info.spherical["stereo"]) == DETECTED[name], reasons
    assert reasons["projection"].startswith("content:"), reasons
    assert info.view_width == 2 * info.view_height


def test_wide_file_with_v2_metadata_is_treated_as_the_same_frames_without(made):
    said, unsaid = probe_video(made["wide_v2"]), probe_video(made["wide_plain"])
    assert said.spherical["reasons"]["projection"] == "spherical metadata V2"
    for info in (said, unsaid):
        assert info.layout.filter_string() == "scale=w=1440:h=720:flags=area"
        assert "1280x720 (1.78:1)" in info.spherical["reasons"]["aspect"]


def test_undecidable_content_says_what_was_assumed(caplog):
    noise = np.random.default_rng(0).integers(0, 256, (192, 384), dtype=np.uint8)
    found, reasons = detect_from_content([noise, noise])
    assert found["projection"] == "equirectangular" and "no dual fisheye" in reasons[0]
    square = np.random.default_rng(1).integers(0, 256, (256, 256), dtype=np.uint8)
    found, reasons = detect_from_content([square])
    assert found == {} and "no known 360-degree layout" in reasons[0]



def test_what_was_assumed_is_a_warning_of_the_probe(tmp_path, caplog):
    clip = make_clip(tmp_path / "blocks.mp4", width=256, height=144, seconds=1.0)  # 16:9 random blocks
    with caplog.at_level("WARNING", logger="sstsal"):
        info = probe_video(clip)
    assert info.spherical["reasons"]["projection"].startswith("default (content undecided: 256x144 (1.78:1)")
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("cannot tell its projection" in w and "using the default projection equirectangular" in w for w in warned)


def test_a_layout_that_cannot_be_names_ones_that_fit():
    meta = SphericalMetadata()
    with pytest.raises(InputError) as refused:
        decide_layout("x/room.mp4", 512, 256, 1.0, meta, sheet={"projection": "cubemap-3x2", "stereo": "mono"})
    message = str(refused.value)
    assert "cube faces would not be square" in message
    assert "projection dual-fisheye with stereo mono" in message and "projection equirectangular (any stored aspect)" in message
    # equirectangular fits any stored aspect, VR180 too
    layout = decide_layout("x/wide.mp4", 1280, 720, 1.0, meta, sheet={"projection": "half-equirectangular", "stereo": "left-right"})
    assert layout.view_size() == (1440, 720) and "640x720 (0.89:1)" in layout.reasons["aspect"]


# ---- containers --------------------------------------------------------------------------


def test_containers_people_have_are_videos_of_the_folder(tmp_path):
    demuxers = subprocess.run([FFMPEG, "-hide_banner", "-demuxers"], capture_output=True, text=True).stdout
    assert " mpegts " in demuxers and " mov,mp4," in demuxers  # what the bundled ffmpeg reads them with
    for suffix in (".ts", ".mts", ".m2ts", ".insv", ".lrv", ".360"):
        assert suffix in VIDEO_SUFFIXES
    folder = tmp_path / "videos"
    clip = make_clip(tmp_path / "clip.mp4", width=128, height=64, seconds=0.5)
    ffmpeg("-i", str(clip), "-c", "copy", "-f", "mpegts", str(folder.mkdir() or folder / "a.TS"))
    ffmpeg("-i", str(clip), "-c", "copy", "-f", "mpegts", "-mpegts_m2ts_mode", "1", str(folder / "b.m2ts"))
    shutil.copy(folder / "b.m2ts", folder / "c.MTS")
    for name in ("d.insv", "e.lrv", "f.360"):
        shutil.copy(clip, folder / name)
    for name in ("notes.txt", "photo.JPG", "model.obj", ".DS_Store"):
        (folder / name).write_text("x")
    (folder / "sub").mkdir()
    found = discover_videos(folder)
    assert sorted(found) == ["a", "b", "c", "d", "e", "f"]
    for path in found.values():
        info = probe_video(path)
        assert (info.width, info.height, info.frame_count) == (128, 64, 6)
    left = left_out_files(folder)
    assert left == {
        ".DS_Store": "a hidden file",
        "model.obj": left["model.obj"],
        "notes.txt": "not a video (.txt file)",
        "photo.JPG": "not a video (.jpg file)",
        "sub": "a folder (only the files directly in the videos folder are read)",
    }
    assert left["model.obj"].startswith("unknown extension .obj: videos end in .mp4")


def test_left_out_files_are_in_the_closing_table():
    from sstsal.pipeline.library import VideoOutcome, left_out_lines, left_out_rows, run_table

    left = {"notes.txt": "not a video (.txt file)"}
    table = run_table([VideoOutcome("clip", "finished", "results/clip/"), *left_out_rows(left)])
    assert table.splitlines()[0] == "videos: 1 finished, 1 left out"
    assert "  left out   notes.txt  not a video (.txt file)" in table
    assert left_out_lines(left) == ["left out notes.txt: not a video (.txt file)"]


# ---- written back as it came ----------------------------------------------------------------


def _fake_stack(path: Path, count: int, step: int) -> Path:
    from sstsal.media.saliency_stack import save_stack

    yy, xx = np.mgrid[0:240, 0:320]
    blob = np.exp(-((xx - 160) ** 2 + (yy - 120) ** 2) / 800.0).astype(np.float32)
    save_stack(path, {f"clip_{i * step:04d}": blob for i in range(count)})
    return path


@pytest.mark.parametrize("name", ["vr180", "congo", "wide_v2"])
def test_overlay_is_written_back_as_it_came(made, tmp_path, name):
    from sstsal.media.render import render_overlay

    info = probe_video(made[name])
    stack = _fake_stack(tmp_path / "s.npz", len(range(0, info.frame_count, 4)), 4)
    out = render_overlay(made[name], stack, tmp_path / "overlay.mp4", width=512, info=info, progress=False)
    meta = read_spherical_metadata(out)
    back = probe_video(out)
    frame = cv2.imread(str(_first_frame(out, tmp_path)))
    assert (meta.projection, meta.stereo) == ("equirectangular", info.spherical["stereo"])
    assert meta.version == "v1+v2"
    if name == "vr180":
        # half sphere: the source's part of it (V2 equi bounds, V1 crop), top-bottom, each eye stored as it came
        assert meta.bounds == pytest.approx(VR180_BOUNDS, abs=0.004)
        assert "tiled equirectangular" in side_data(out) and "Stereo 3D: top and bottom" in side_data(out)
        assert back.spherical["full_sphere"] is False and back.spherical["bounds"] == pytest.approx(VR180_BOUNDS, abs=0.004)
        eye_w, eye_h = frame.shape[1], frame.shape[0] // 2
        assert abs(eye_w / eye_h - 1072 / 752) < 0.03 and abs(eye_w - 512 * (1 - 2 * VR180_BOUNDS[2])) <= 2
        # no black half: every part of each eye shows the scene
        assert frame[:, :8].mean() > 10 and frame[:, -8:].mean() > 10
    else:
        source_eye = info.layout.eye_size()
        eyes = 2 if info.spherical["stereo"] == "top-bottom" else 1
        assert abs(frame.shape[1] / (frame.shape[0] / eyes) - source_eye[0] / source_eye[1]) < 0.03
        assert back.view_width == 2 * back.view_height and back.spherical["reasons"]["aspect"]


def test_vr180_eyes_come_back_at_their_stored_size_by_default(made):
    from sstsal.media.render import cropped_view_width, render_size, stored_eye

    info = probe_video(made["vr180_v1"])
    size = render_size(info, cropped_view_width(info))
    assert stored_eye(info, size)[1] == (1072, 752)
    assert cropped_view_width(probe_video(made["congo"])) is None  # the whole sphere: the usual default


def test_vr180_side_by_side_comes_back_as_vr180(tmp_path, shared):
    from sstsal.media.render import render_overlay

    room = shared / "videos" / "testRoom1_1920Mono.mp4"
    clip = tmp_path / "vr180.mp4"
    ffmpeg("-t", "1", "-i", str(room), "-filter_complex",
           "[0]scale=512:256:flags=area,v360=e:hequirect:w=256:h=256,split[a][b];[a][b]hstack", *ENCODE, str(clip))  # fmt: skip
    info = probe_video(clip)
    assert (info.spherical["projection"], info.spherical["stereo"]) == ("half-equirectangular", "left-right")
    stack = _fake_stack(tmp_path / "s.npz", len(range(0, info.frame_count, 4)), 4)
    out = render_overlay(clip, stack, tmp_path / "overlay.mp4", width=512, info=info, progress=False)
    meta = read_spherical_metadata(out)
    assert (meta.stereo, meta.bounds) == ("left-right", pytest.approx((0.0, 0.0, 0.25, 0.25)))
    frame = cv2.imread(str(_first_frame(out, tmp_path)))
    assert frame.shape[:2] == (256, 512)  # two 256x256 eyes, as they came
    assert frame[:, :8].mean() > 10  # not a full sphere with a black half


def _first_frame(clip: Path, folder: Path) -> Path:
    out = folder / f"{clip.stem}.first.png"
    ffmpeg("-i", str(clip), "-frames:v", "1", str(out))
    return out


# ---- the same maps ----------------------------------------------------------------------------

MIN_CC = 0.95


@pytest.fixture(scope="module")
def twins(made, tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """{case: (file as it is, the twin it must give the maps of)}: the stereo file and its left eye
    cut out and stretched to 2:1 by hand; the 16:9 file and the same frames stretched to 2:1; the
    mesh VR180 file and its V1-only twin."""
    folder = tmp_path_factory.mktemp("twins")
    ffmpeg("-i", str(made["congo"]), "-vf", "crop=iw:ih/2:0:0,scale=640:320:flags=area", *ENCODE, str(folder / "eye.mp4"))
    ffmpeg("-i", str(made["wide_v2"]), "-vf", "scale=640:320:flags=area", *ENCODE, str(folder / "wide.mp4"))
    return {"stereo": (made["congo"], folder / "eye.mp4"), "wide": (made["wide_v2"], folder / "wide.mp4"),
            "mesh": (made["vr180"], made["vr180_v1"])}  # fmt: skip


@pytest.fixture(scope="module")
def twin_maps(twins, model_without_flow, tmp_path_factory) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Raw maps (frames-only model, CPU) of both files of each case, through probe and extraction."""
    from sstsal.media.saliency_stack import seen_directions, unseen_masked
    from sstsal.model.predictor import SaliencyPredictor

    predictor = SaliencyPredictor(model_without_flow, device="cpu")
    folder = tmp_path_factory.mktemp("twin_maps")
    result = {}
    for case, pair in twins.items():
        stacks = []
        for k, clip in enumerate(pair):
            info = probe_video(clip)
            work = folder / f"{case}{k}"
            extract_frames(clip, work / "frames", name="clip", info=info, progress=False)
            raw = predictor.predict_folder(work / "frames", work / "maps", progress=False)
            (work / "video.json").write_text(info.to_json(), encoding="utf-8")
            raw = unseen_masked(raw, seen_directions(work / "video.json"))
            stacks.append(np.stack([raw[n] for n in sorted(raw)]).astype(np.float32))
        result[case] = tuple(stacks)
    return result


def per_frame_cc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.reshape(len(a), -1) - a.reshape(len(a), -1).mean(1, keepdims=True)
    b = b.reshape(len(b), -1) - b.reshape(len(b), -1).mean(1, keepdims=True)
    return (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))


@pytest.mark.slow
@pytest.mark.parametrize("case", ["stereo", "wide", "mesh"])
def test_the_same_maps_as_the_twin(twin_maps, case):
    ours, theirs = twin_maps[case]
    assert ours.shape == theirs.shape and len(ours) >= 12
    cc = per_frame_cc(ours, theirs)
    print(f"{case}: per-frame CC min {cc.min():.3f} median {np.median(cc):.3f} ({len(cc)} frames)")
    assert cc.min() >= MIN_CC, cc
    # the check can fail: the same maps turned by 90 degrees do not pass
    shifted = per_frame_cc(ours, np.roll(theirs, 80, axis=2))
    assert np.median(shifted) < MIN_CC


def test_workflow_names_each_left_out_file_once_at_the_start(tmp_path):
    from clip_workflow import new_workdir
    from snakemake_run import snakemake

    workdir = new_workdir(tmp_path)
    shutil.copy(workdir / "videos" / "clip.mp4", workdir / "videos" / "segment.ts")
    (workdir / "videos" / "notes.txt").write_text("x")
    (workdir / "videos" / "scene.obj").write_text("x")
    result = snakemake(workdir, "-n")
    lines = result.stderr.splitlines()
    assert lines.count("left out notes.txt: not a video (.txt file)") == 1
    assert sum(line.startswith("left out scene.obj: unknown extension .obj") for line in lines) == 1
    assert "results/segment/saliency.npz" in result.stdout + result.stderr  # the .ts segment is a video of the run
