"""One video's gaze recordings -> ground truth on disk: the entry point of the CLI and the workflow."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sstsal.errors import InputError
from sstsal.gaze.fixations import FixationSettings
from sstsal.gaze.maps import Alignment, GroundTruth, MapSettings, Timeline, build_ground_truth, frame_maps, write_ground_truth
from sstsal.gaze.readers import EYES, FORMATS, read_gaze
from sstsal.gaze.signal import SignalSettings, prepare_samples

log = logging.getLogger(__name__)

# Named processings in the workflow's ``gaze.*`` keys (config/README.md); keys given alongside a
# profile override its values. docs/eye-tracking.md says where each comes from.
PROFILES: dict[str, dict] = {
    # The Salient360! toolbox's scripting/dynamicStimuli.py, how its video maps are made.
    "salient360-dynamic": {
        "eye": "right", "align": "frame", "start_frame": 1, "resample_hz": 90.0, "outlier_sd": 5.0,
        "smoothing_window": 9, "smoothing_order": 2, "fixations": "ivt", "velocity_threshold_deg_s": 120.0,
        "min_fixation_s": 0.080, "sigma_deg": 2.0,
    },
    # PVS-HM's maps (the DHP code's fixation2salmap): every head position a point, sigma 12.765 deg.
    "pvs-hm": {"fixations": "samples", "sigma_deg": 12.765},
    # D-SAV360's maps (its compute_gt_saliencymaps_DSAV360.py): its own fixation labels, sigma 5 deg.
    "d-sav360": {"fixations": "recorded", "sigma_deg": 5.0},
}  # fmt: skip
DEFAULTS: dict = {
    "format": "plain", "eye": "right", "align": "auto", "offset_s": 0.0, "tolerance_s": 0.5, "start_frame": None,
    "resample_hz": None, "outlier_sd": None, "fixations": "ivt", "velocity_threshold_deg_s": 120.0,
    "min_fixation_s": 0.080, "smoothing_window": 0, "smoothing_order": 2, "sigma_deg": 2.0, "width": 1024, "height": 512,
}  # fmt: skip


@dataclass(frozen=True)
class GroundTruthSettings:
    """Everything that decides the ground truth of a recording, checked in one place."""

    format: str = "plain"
    eye: str = "right"
    alignment: Alignment = field(default_factory=Alignment)
    fixation: FixationSettings = field(default_factory=FixationSettings)
    map: MapSettings = field(default_factory=MapSettings)
    signal: SignalSettings = field(default_factory=SignalSettings)
    profile: str | None = None

    def check(self) -> None:
        if self.format not in FORMATS:
            raise InputError(f"unknown gaze format {self.format!r}: use one of {', '.join(FORMATS)}")
        if self.eye not in EYES:
            raise InputError(f"unknown eye {self.eye!r}: use one of {', '.join(EYES)}")
        if self.alignment.tolerance_s < 0:
            raise InputError(f"the duration tolerance cannot be negative, got {self.alignment.tolerance_s} s")
        if self.profile is not None and self.profile not in PROFILES:
            raise InputError(f"unknown processing profile {self.profile!r}: use one of {', '.join(PROFILES)}")
        self.alignment.resolve([])  # checks the mode name
        self.fixation.check()
        self.map.check()
        self.signal.check()

    @classmethod
    def from_config(cls, config: dict) -> GroundTruthSettings:
        """From the workflow's ``gaze`` mapping (keys as in config/README.md; ``None`` or absent:
        the profile's value, else the default), also the CLI's."""
        profile = config.get("profile")
        if profile is not None and profile not in PROFILES:
            raise InputError(f"unknown processing profile {profile!r}: use one of {', '.join(PROFILES)}")
        given = {k: v for k, v in config.items() if v is not None and k != "profile"}
        unknown = sorted(set(given) - set(DEFAULTS))
        if unknown:
            raise InputError(f"unknown ground-truth setting(s) {', '.join(unknown)}: use {', '.join(DEFAULTS)}")
        c = {**DEFAULTS, **PROFILES.get(profile, {}), **given}

        def optional(key: str, kind: type):
            return None if c[key] is None else kind(c[key])

        settings = cls(
            format=c["format"],
            eye=c["eye"],
            alignment=Alignment(c["align"], float(c["offset_s"]), float(c["tolerance_s"])),
            fixation=FixationSettings(c["fixations"], float(c["velocity_threshold_deg_s"]), float(c["min_fixation_s"]),
                                      int(c["smoothing_window"]), int(c["smoothing_order"])),  # fmt: skip
            map=MapSettings(int(c["width"]), int(c["height"]), float(c["sigma_deg"])),
            signal=SignalSettings(optional("start_frame", int), optional("resample_hz", float), optional("outlier_sd", float)),
            profile=profile,
        )
        settings.check()
        return settings

    def record(self) -> dict:
        return asdict(self)


def timeline_for(
    *,
    video: str | Path | None = None,
    fps: float | None = None,
    frame_count: int | None = None,
    frames_dir: str | Path | None = None,
    sampling: str = "published",
    sample_fps: float = 8.0,
) -> Timeline:
    """The sampled frames to give ground truth: those of ``frames_dir`` (e.g. ``results/<video>/frames``)
    or the video's sampling (``published``, ``exact`` at ``sample_fps``, or ``all`` frames); the frame
    rate and length from ``video`` or from ``fps`` and ``frame_count``."""
    from sstsal.media.frames import SAMPLINGS, exact_indices, published_step
    from sstsal.media.naming import list_frames

    if video is not None:
        from sstsal.media.video import probe_video

        info = probe_video(video)
        fps, frame_count = info.fps, info.frame_count
    if not fps or not frame_count:
        raise InputError("give the video (--video) or its frame rate and length (--fps and --frame-count)")
    if fps <= 0 or frame_count < 1:
        raise InputError(f"the frame rate must be positive and the video at least one frame long, got {fps} fps, {frame_count} frames")
    if frames_dir is not None:
        numbers = [f.number for f in list_frames(frames_dir)]
        beyond = [n for n in numbers if n >= frame_count]
        if beyond:
            raise InputError(f"frames {beyond[:3]} of {frames_dir} lie beyond the video's {frame_count} frames: is it the right video?")
    elif sampling == "all":
        numbers = list(range(frame_count))
    elif sampling == "published":
        numbers = list(range(0, frame_count, published_step(fps)))
    elif sampling == "exact":
        numbers = exact_indices(fps, sample_fps, frame_count)
    else:
        raise InputError(f"unknown sampling {sampling!r}: use one of {', '.join(SAMPLINGS + ('all',))}")
    return Timeline(float(fps), int(frame_count), tuple(numbers))


def make_ground_truth(
    gaze: list[str | Path],
    out_root: str | Path,
    *,
    video: str,
    timeline: Timeline,
    settings: GroundTruthSettings,
) -> tuple[GroundTruth, dict]:
    """Read, identify fixations, draw the maps and write ``out_root/<video>/``, ``<video>.csv`` and
    ``<video>.json``. Returns the ground truth and its maps (for exports)."""
    settings.check()
    samples = read_gaze(gaze, settings.format, video=video, fps=timeline.fps, eye=settings.eye)
    if not samples:
        raise InputError(f"no gaze recording of video {video} found in {', '.join(map(str, gaze))}")
    samples = [prepare_samples(s, settings.signal) for s in samples]
    truth = build_ground_truth(video, samples, timeline, fixation_settings=settings.fixation, alignment=settings.alignment)
    truth.record["settings"] = settings.record()
    maps = frame_maps(truth, settings.map)
    write_ground_truth(truth, maps, out_root, settings.map)
    log.info("ground truth of %s: %d observer(s), %d fixation(s), %d of %d frame(s) with a map",
             video, len(truth.observers()), len(truth.fixations), len(maps), len(truth.frames))  # fmt: skip
    return truth, maps
