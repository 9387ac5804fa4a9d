"""Training data: where each video's frames, flow images and ground truth live, the 20-frame
sequences cut from them, and the dataset that reads (and rotates) them as the published loader does."""

from __future__ import annotations

import glob
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from sstsal.errors import InputError
from sstsal.evaluation.evaluate import index_maps
from sstsal.training.config import TrainConfig


@dataclass(frozen=True)
class VideoData:
    """One video's frames in order, with their flow images and ground-truth maps (None: missing)."""

    name: str
    frames: tuple[Path, ...]
    flows: tuple[Path | None, ...]
    saliency: tuple[Path | None, ...]


@dataclass
class DataLayout:
    """Where the frames, flow images and ground truth of video ``{video}`` live.

    Each is a folder pattern containing ``{video}``. The published layout is
    ``ROOT/frames/{video}``, ``ROOT/optical_flow/{video}``, ``ROOT/saliency_maps/{video}``;
    the workflow's is ``results/{video}/frames``, ``results/{video}/flow`` and the ground truth
    folder given in its config.
    """

    frames: str
    gt: str
    flow: str | None = None

    @classmethod
    def published(cls, root: str | Path) -> DataLayout:
        root = Path(root)
        return cls(
            frames=str(root / "frames" / "{video}"),
            flow=str(root / "optical_flow" / "{video}"),
            gt=str(root / "saliency_maps" / "{video}"),
        )

    def absolute(self) -> DataLayout:
        """The same layout with absolute folder patterns (saved with a run, so --resume works anywhere)."""
        absolute = lambda p: None if p is None else str(Path(p).absolute())  # noqa: E731
        return DataLayout(frames=absolute(self.frames), gt=absolute(self.gt), flow=absolute(self.flow))

    def folder(self, kind: str, video: str) -> Path:
        """The ``kind`` (frames, flow, gt) folder of ``video``; a pattern without ``{video}`` is a root."""
        pattern = getattr(self, kind)
        if "{video}" not in pattern:
            pattern = str(Path(pattern) / "{video}")
        return Path(pattern.replace("{video}", video)).absolute()

    def discover_videos(self) -> list[str]:
        """Names of the videos whose frame folder exists, sorted."""
        pattern = str(self.folder("frames", "{video}"))
        prefix, _, suffix = pattern.partition("{video}")
        matcher = re.compile(re.escape(prefix) + r"([^/]+)" + re.escape(suffix) + "$")
        names = set()
        for found in glob.glob(glob.escape(prefix) + "*" + glob.escape(suffix)):
            match = matcher.match(found)
            if match and Path(found).is_dir():
                names.add(match.group(1))
        return sorted(names)

    def load_video(self, video: str, use_flow: bool) -> VideoData:
        frame_dir = self.folder("frames", video)
        frames = index_maps(frame_dir, f"frame folder of video {video!r}")
        numbers = sorted(frames)
        gt_dir = self.folder("gt", video)
        gt = index_maps(gt_dir, f"ground-truth folder of video {video!r}") if gt_dir.is_dir() else {}
        flows: tuple[Path | None, ...] = (None,) * len(numbers)
        if use_flow:
            if self.flow is None:
                raise InputError("training with flow needs the flow folders (--flow or --data); or train with --no-flow")
            flow_dir = self.folder("flow", video)
            if not flow_dir.is_dir():
                raise InputError(f"flow folder {flow_dir} of video {video!r} is missing: compute it with `sstsal flow` or use --no-flow")
            flows = tuple((flow_dir / frames[n].name) if (flow_dir / frames[n].name).is_file() else None for n in numbers)
        return VideoData(
            name=video,
            frames=tuple(frames[n] for n in numbers),
            flows=flows,
            saliency=tuple(gt.get(n) for n in numbers),
        )


def read_video_list(path: str | Path) -> list[str]:
    """Video names, one per line (blank lines and ``#`` comments ignored), as the published split files."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"split file {path} does not exist")
    names = [line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
    names = [n for n in names if n]
    if not names:
        raise InputError(f"split file {path} names no video")
    return names


@dataclass(frozen=True)
class TrainingSequence:
    """``length`` consecutive frames of one video starting at position ``start``."""

    video: VideoData
    start: int
    length: int


def make_sequences(videos: Sequence[VideoData], config: TrainConfig) -> tuple[list[TrainingSequence], int]:
    """Non-overlapping sequences after the skipped frames; returns (usable, dropped for missing data)."""
    usable: list[TrainingSequence] = []
    dropped = 0
    for video in videos:
        for start in range(config.skip_frames, len(video.frames) - config.sequence_length + 1, config.sequence_length):
            stop = start + config.sequence_length
            complete = all(p is not None for p in video.saliency[start:stop])
            if config.use_flow:
                complete = complete and all(p is not None for p in video.flows[start:stop])
            if complete:
                usable.append(TrainingSequence(video, start, config.sequence_length))
            else:
                dropped += 1
    return usable, dropped


def _read_colour(path: Path, size: tuple[int, int]) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"cannot decode {path}: the file is unreadable, truncated or not an image")
    if image.shape[:2] != size:
        image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    return image.astype(np.float32) / 255.0


def _read_ground_truth(path: Path, size: tuple[int, int]) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise InputError(f"cannot decode ground-truth map {path}: unreadable, truncated or not an image")
    if image.shape[:2] != size:
        image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    image = image.astype(np.float32)
    low, high = image.min(), image.max()
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def roll_amount(seed: int, epoch: int, index: int, width: int) -> int:
    """The augmentation's horizontal shift of sequence ``index`` in ``epoch``, reproducibly."""
    generator = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch) * 10_007 + int(index))
    return int(torch.randint(width, (1,), generator=generator))


class SequenceDataset(Dataset):
    """Items ``(x, y)``: ``(T, C, H, W)`` inputs (BGR frame [+ BGR flow]) and ``(T, 1, H, W)`` ground truth.

    Keys are ``(epoch, index)`` (or ``index``, epoch 0): with ``rotate`` the item is rolled by
    :func:`roll_amount`, so worker processes need no shared state.
    """

    def __init__(self, sequences: list[TrainingSequence], config: TrainConfig, rotate: bool) -> None:
        self.sequences = sequences
        self.config = config
        self.rotate = rotate

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        seq = self.sequences[index]
        size = (self.config.height, self.config.width)
        inputs, labels = [], []
        for position in range(seq.start, seq.start + seq.length):
            channels = [_read_colour(seq.video.frames[position], size)]
            if self.config.use_flow:
                channels.append(_read_colour(seq.video.flows[position], size))
            inputs.append(np.concatenate(channels, axis=2).transpose(2, 0, 1))
            labels.append(_read_ground_truth(seq.video.saliency[position], size)[None])
        x = torch.from_numpy(np.stack(inputs))
        y = torch.from_numpy(np.stack(labels))
        if self.rotate:
            shift = roll_amount(self.config.seed, epoch, index, self.config.width)
            # Published Rotate: cat(x[..., t:], x[..., :t]) == roll by -t.
            x, y = torch.roll(x, -shift, dims=-1), torch.roll(y, -shift, dims=-1)
        return x, y


def split_videos(train: list[str], val: list[str] | None, val_fraction: float) -> tuple[list[str], list[str]]:
    """The published split: the first ``ceil(fraction * N)`` videos validate, unless ``val`` is given."""
    if val is not None:
        overlap = sorted(set(train) & set(val))
        if overlap:
            raise InputError(f"videos {', '.join(overlap[:5])} are in both the training and the validation split")
        return train, val
    n_val = int(math.ceil(val_fraction * len(train)))
    return train[n_val:], train[:n_val]


def epoch_order(seed: int, epoch: int, n: int) -> list[int]:
    """The order of the training sequences in ``epoch``: a pure function of (seed, epoch), so resuming repeats it."""
    generator = torch.Generator().manual_seed(int(seed) * 7_919 + int(epoch))
    return torch.randperm(n, generator=generator).tolist()


def collate(items: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack dataset items into a batch: ``(B, T, C, H, W)`` and ``(B, T, 1, H, W)``."""
    xs, ys = zip(*items)
    return torch.stack(xs), torch.stack(ys)
