"""torchvision's RAFT with the flow of consecutive frames computed from shared encodings.

A video's frame t is the second image of pair t-1 and the first of pair t. torchvision's
``RAFT.forward`` encodes both images of every pair; :class:`VideoRAFT` adds the steps of that
forward as methods, so that each frame's features are encoded once and a batch of N+1 frames
gives N flows. ``forward`` itself is torchvision's, unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.models.optical_flow import RAFT

from sstsal.flow.raft.correlation import SharedCorrBlock, shared_corr_block_for

# torchvision keeps its coordinate grid and convex upsampling in a private module
# (torchvision.models.optical_flow._utils); these two are the same arithmetic, written here so
# the engine depends on public names only. tests/test_raft.py checks them against torchvision's.


def coords_grid(batch_size: int, height: int, width: int, device: torch.device) -> Tensor:
    """Pixel coordinates (x, y) of a ``height`` x ``width`` grid: float (B, 2, H, W)."""
    ys, xs = torch.meshgrid(torch.arange(height, device=device), torch.arange(width, device=device), indexing="ij")
    return torch.stack([xs, ys]).float().expand(batch_size, 2, height, width).clone()


def convex_upsample(flow: Tensor, up_mask: Tensor, factor: int = 8) -> Tensor:
    """RAFT's learned upsampling: each fine pixel a convex combination of its coarse 3x3
    neighbourhood (the paper's appendix B). ``flow`` (B, 2, H, W), ``up_mask`` (B, 9*f*f, H, W)
    -> (B, 2, f*H, f*W), in pixels of the fine grid."""
    batch, channels, h, w = flow.shape
    weights = torch.softmax(up_mask.view(batch, 1, 9, factor, factor, h, w), dim=2)
    neighbours = F.unfold(factor * flow, kernel_size=3, padding=1).view(batch, channels, 9, 1, 1, h, w)
    fine = torch.sum(weights * neighbours, dim=2)  # (B, C, f, f, H, W)
    return fine.permute(0, 1, 4, 2, 5, 3).reshape(batch, channels, factor * h, factor * w)


def _autocast(device: torch.device, dtype: torch.dtype | None) -> torch.autocast:
    # disabled explicitly (not just absent) so an outer autocast cannot lower fp32 runs
    if dtype is None:
        return torch.autocast(device_type=device.type, enabled=False)
    return torch.autocast(device_type=device.type, dtype=dtype)


class VideoRAFT(RAFT):
    """torchvision's :class:`~torchvision.models.optical_flow.RAFT` (same modules, same state dict)
    that also computes the flow of consecutive frames, every frame encoded once.

    ``amp_dtype``: None for fp32, or the CUDA autocast dtype of the encoders and the update block;
    the correlation and the coordinates stay fp32, as in the published mixed-precision code.
    """

    corr_block: SharedCorrBlock

    @classmethod
    def from_raft(cls, model: RAFT) -> VideoRAFT:
        """A VideoRAFT sharing ``model``'s modules (and so its weights), with a :class:`SharedCorrBlock`."""
        if isinstance(model, cls):
            return model
        video = cls(
            feature_encoder=model.feature_encoder,
            context_encoder=model.context_encoder,
            corr_block=shared_corr_block_for(model.corr_block),
            update_block=model.update_block,
            mask_predictor=model.mask_predictor,
        )
        return video.train(model.training)

    def _encode(self, encoder: torch.nn.Module, images: Tensor, chunk: int, amp_dtype: torch.dtype | None) -> Tensor:
        with _autocast(images.device, amp_dtype):
            parts = [encoder(images[i : i + chunk]) for i in range(0, images.shape[0], chunk)]
        return torch.cat(parts, dim=0)

    def encode_features(self, images: Tensor, *, chunk: int = 4, amp_dtype: torch.dtype | None = None) -> Tensor:
        """Feature maps of normalised images (N, 3, H, W) -> (N, 256, H/8, W/8), ``chunk`` images at a time."""
        return self._encode(self.feature_encoder, images, chunk, amp_dtype)

    def encode_context(
        self, images: Tensor, *, chunk: int = 4, amp_dtype: torch.dtype | None = None
    ) -> tuple[Tensor, Tensor]:
        """The update block's initial hidden state and its context, of each first image of a pair."""
        context_out = self._encode(self.context_encoder, images, chunk, amp_dtype)
        hidden_size = self.update_block.hidden_state_size
        with _autocast(images.device, amp_dtype):
            hidden, context = torch.split(context_out, [hidden_size, context_out.shape[1] - hidden_size], dim=1)
            return torch.tanh(hidden), F.relu(context)

    def consecutive_flow(
        self,
        images: Tensor,
        fmaps: Tensor,
        *,
        num_flow_updates: int = 12,
        chunk: int = 4,
        amp_dtype: torch.dtype | None = None,
    ) -> Tensor:
        """Flow of pairs (i, i+1) of N+1 images (N+1, 3, H, W) with their features (N+1, C, H/8, W/8):
        (N, 2, H, W). Equal to ``forward(images[i], images[i + 1])[-1]`` for each pair; only the
        last update is upsampled, and the correlation pyramid is freed before returning."""
        pairs = fmaps.shape[0] - 1
        hidden, context = self.encode_context(images[:pairs], chunk=chunk, amp_dtype=amp_dtype)
        fmaps = fmaps.float()
        self.corr_block.build_pyramid(fmaps[:pairs], fmaps[1:])
        try:
            h, w = fmaps.shape[-2:]
            coords0 = coords_grid(pairs, h, w, fmaps.device)
            coords1 = coords0.clone()
            for _ in range(num_flow_updates):
                corr_features = self.corr_block.index_pyramid(centroids_coords=coords1)
                flow = coords1 - coords0
                with _autocast(images.device, amp_dtype):
                    hidden, delta_flow = self.update_block(hidden, context, corr_features, flow)
                coords1 = coords1 + delta_flow.float()
            with _autocast(images.device, amp_dtype):
                up_mask = self.mask_predictor(hidden)
            return convex_upsample(coords1 - coords0, up_mask.float())
        finally:
            # torchvision keeps the pyramid on the module after forward; at 2048x1024 that is
            # gigabytes per pair held until the next batch replaces it.
            self.corr_block.release()
