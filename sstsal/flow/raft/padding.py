"""Padding of equirectangular frames for RAFT: to a multiple of 8, wrapping around horizontally
(the left and right edges are neighbours), with an optional circular seam margin."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch.nn.functional as F
from torch import Tensor

from sstsal.errors import InputError
from sstsal.flow.settings import SEAM_MODES, SeamMode


@dataclass(frozen=True)
class EquirectPadding:
    """Padding of a (B, C, H, W) batch: ``left``/``right`` wrap around, ``top``/``bottom`` replicate.

    ``horizontal='replicate'`` pads the sides by edge replication instead, as the published
    ``InputPadder`` does; it exists to compare with the published code.
    """

    left: int
    right: int
    top: int
    bottom: int
    horizontal: Literal["wrap", "replicate"] = "wrap"

    def pad(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H + top + bottom, W + left + right)."""
        if self.left or self.right:
            mode = "circular" if self.horizontal == "wrap" else "replicate"
            images = F.pad(images, [self.left, self.right, 0, 0], mode=mode)
        if self.top or self.bottom:
            images = F.pad(images, [0, 0, self.top, self.bottom], mode="replicate")
        return images

    def unpad(self, tensor: Tensor) -> Tensor:
        """Crop the padding off the last two dimensions."""
        h, w = tensor.shape[-2:]
        return tensor[..., self.top : h - self.bottom, self.left : w - self.right]


def default_seam_margin(width: int) -> int:
    """The circular margin added on each side for ``seam='wrap'``: 1/16 of the width, a multiple of 8.

    It must exceed the largest horizontal motion across the seam; 1/16 of the frame is
    22.5 degrees of yaw per frame pair.
    """
    return max(16, int(math.ceil(width / 16 / 8)) * 8)


def equirect_padding(
    height: int,
    width: int,
    *,
    multiple: int = 8,
    seam: SeamMode = "pad",
    seam_margin: int | None = None,
    horizontal: Literal["wrap", "replicate"] = "wrap",
) -> EquirectPadding:
    """Padding that makes a ``height`` x ``width`` frame a multiple of ``multiple``.

    Split evenly (the extra pixel at the bottom/right) as the published ``InputPadder``.
    ``seam='wrap'`` adds ``seam_margin`` pixels (default :func:`default_seam_margin`) of
    wrapped-around image on both sides, so motion across the left/right seam can be matched.
    """
    if seam not in SEAM_MODES:
        raise InputError(f"seam must be one of {', '.join(SEAM_MODES)}, not {seam!r}")
    pad_h = (-height) % multiple
    pad_w = (-width) % multiple
    margin = 0
    if seam == "wrap":
        margin = default_seam_margin(width) if seam_margin is None else int(seam_margin)
        if margin < 0 or margin > width // 2:
            raise InputError(f"seam margin {margin} must be between 0 and half the frame width, {width // 2}")
        if horizontal != "wrap":
            raise InputError("seam='wrap' needs horizontal wrap-around padding")
    return EquirectPadding(
        left=margin + pad_w // 2,
        right=margin + pad_w - pad_w // 2,
        top=pad_h // 2,
        bottom=pad_h - pad_h // 2,
        horizontal=horizontal,
    )
