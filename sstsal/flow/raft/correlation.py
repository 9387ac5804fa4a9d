"""RAFT's correlation block for long videos, passed to torchvision's builder (``corr_block=``).

The all-pairs correlation of one pair at 2048x1024 is 4 GiB. This block builds the same
pyramid as torchvision's ``CorrBlock`` while holding one full-size volume instead of two (the
scaling is done in place), and lets the engine free the pyramid after each batch instead of
keeping it on the module until the next one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.models.optical_flow.raft import CorrBlock


class SharedCorrBlock(CorrBlock):
    """torchvision's ``CorrBlock`` (4 levels, radius 4 for RAFT-large) with an in-place volume and
    :meth:`release`; its pyramid and lookups are the parent's, value for value."""

    def build_pyramid(self, fmap1: Tensor, fmap2: Tensor) -> None:
        """The pyramid of the (B, C, H, W) feature maps ``fmap1`` and ``fmap2``: the parent's checks and
        values, with the 1/sqrt(C) scaling done in place."""
        if fmap1.shape != fmap2.shape:
            raise ValueError(f"feature maps must have one shape, got {tuple(fmap1.shape)} and {tuple(fmap2.shape)}")
        min_size = 2 * (2 ** (self.num_levels - 1))  # the coarsest level needs 2 cells for grid_sample
        if any(side < min_size for side in fmap1.shape[-2:]):
            raise ValueError(
                f"feature maps of {tuple(fmap1.shape[-2:])} are too small for {self.num_levels} pyramid levels: "
                f"the frames must be at least {8 * min_size} pixels on each side"
            )
        batch, channels, h, w = fmap1.shape
        corr = torch.matmul(fmap1.reshape(batch, channels, h * w).transpose(1, 2), fmap2.reshape(batch, channels, h * w))
        corr.div_(torch.sqrt(torch.tensor(channels)))
        volume = corr.view(batch * h * w, 1, h, w)
        self.corr_pyramid = [volume]
        for _ in range(self.num_levels - 1):
            volume = F.avg_pool2d(volume, kernel_size=2, stride=2)
            self.corr_pyramid.append(volume)

    def release(self) -> None:
        """Drop the pyramid (gigabytes per pair at large sizes) as soon as a batch is done."""
        self.corr_pyramid = [torch.tensor(0)]


def shared_corr_block_for(block: CorrBlock) -> SharedCorrBlock:
    """A :class:`SharedCorrBlock` with ``block``'s levels and radius (the block has no weights)."""
    if isinstance(block, SharedCorrBlock):
        return block
    return SharedCorrBlock(num_levels=block.num_levels, radius=block.radius)
