"""The SST-Sal network: a spherical ConvLSTM encoder and decoder.

Encoder: spherical ConvLSTM cell (gates split i, f, o, g) then spherical 3x3 max pooling
with stride 2. Decoder: spherical ConvLSTM cell with one hidden channel then nearest 2x
upsampling; its hidden state is the saliency output. Zero initial states per sequence.

Computation differs from the published formulation only in its order, not its result:
the part of the encoder's gate convolution that depends on the input frame is computed for
all frames of all sequences at once before the recurrence, and every spherical convolution
is a sparse sampling followed by one matrix multiply (see :mod:`sstsal.model.spherical_ops`).
"""

from __future__ import annotations

import threading

import torch
from torch import nn

from sstsal.frame_size import MODEL_HEIGHT, MODEL_WIDTH  # noqa: F401  (re-exported)
from sstsal.model.spherical_ops import release_sampling_scratch, spherical_conv, spherical_max_pool

_gates_scratch = threading.local()


def lstm_update(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """ConvLSTM update from gates ``(..., 4 * hidden)`` split i, f, o, g; returns ``(h, c)``.

    Without autograd the activations and the cell update run in place on ``gates`` and ``c``
    (neither is reused): these passes over the largest tensors cost as much as the sampling.
    """
    hidden = gates.shape[-1] // 4
    if torch.is_grad_enabled() and (gates.requires_grad or c.requires_grad):
        ifo = torch.sigmoid(gates[..., : 3 * hidden])
        g = torch.tanh(gates[..., 3 * hidden :])
        i, f, o = ifo[..., :hidden], ifo[..., hidden : 2 * hidden], ifo[..., 2 * hidden :]
        c = torch.addcmul(f * c, i, g)
        return o * torch.tanh(c), c
    ifo = gates[..., : 3 * hidden].sigmoid_()
    g = gates[..., 3 * hidden :].tanh_()
    i, f, o = ifo[..., :hidden], ifo[..., hidden : 2 * hidden], ifo[..., 2 * hidden :]
    c = c.mul_(f).addcmul_(i, g)  # the old cell state is not needed again
    return torch.tanh(c).mul_(o), c


def release_scratch() -> None:
    """Free this thread's CPU scratch buffers (input gates, sampled taps) until the next pass."""
    _gates_scratch.buffer = None
    release_sampling_scratch()


class SphericalConvLSTMCell(nn.Module):
    """Gate convolution of a spherical ConvLSTM cell over ``[input, hidden]`` channels."""

    def __init__(self, input_channels: int, hidden_channels: int) -> None:
        super().__init__()
        self.input_channels = input_channels
        self.hidden_channels = hidden_channels
        self.weight = nn.Parameter(torch.empty(4 * hidden_channels, input_channels + hidden_channels, 3, 3))
        self.bias = nn.Parameter(torch.empty(4 * hidden_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # nn.Conv2d's default initialisation, as the published model used.
        conv = nn.Conv2d(self.input_channels + self.hidden_channels, 4 * self.hidden_channels, 3)
        with torch.no_grad():
            self.weight.copy_(conv.weight)
            self.bias.copy_(conv.bias)

    def input_gates(self, x: torch.Tensor, height: int, width: int, out: torch.Tensor | None = None) -> torch.Tensor:
        """Input-frame part of the gates plus bias: ``(N, H*W, C_in)`` -> ``(N, H*W, 4*hidden)``."""
        return spherical_conv(x, self.weight[:, : self.input_channels], self.bias, height, width, out=out)

    def step(
        self, input_gates: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor], height: int, width: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One time step from precomputed input gates; returns the new ``(h, c)``."""
        h, c = state
        gates = spherical_conv(h, self.weight[:, self.input_channels :], None, height, width, add=input_gates)
        return lstm_update(gates, c)


class SSTSal(nn.Module):
    """SST-Sal. ``forward``: ``(B, T, C, H, W)`` in [0, 1] -> ``(B, T, 1, H, W)`` saliency.

    ``C`` is 6 (frame BGR then flow-image BGR) for the published model with flow, 3 without.
    H and W must be even; the published model runs at 240x320.
    """

    def __init__(self, input_channels: int = 6, hidden_channels: int = 36) -> None:
        super().__init__()
        self.input_channels = input_channels
        self.hidden_channels = hidden_channels
        self.encoder = SphericalConvLSTMCell(input_channels, hidden_channels)
        self.decoder = SphericalConvLSTMCell(hidden_channels, 1)

    def _gates_buffer(self, x: torch.Tensor, numel: int) -> torch.Tensor | None:
        """A buffer for the input gates, kept between batches when not computing gradients on CPU.

        At 240x320 they are ~0.9 GB per window; a fresh allocation of that size per batch
        costs more in page faults than the matrix product that fills it.
        """
        if torch.is_grad_enabled() or x.device.type != "cpu":
            return None
        # One buffer per thread (a forward pass uses it from start to end), kept outside the
        # module so that models stay picklable and copyable.
        buffer = getattr(_gates_scratch, "buffer", None)
        stale = buffer is not None and buffer.is_inference() != torch.is_inference_mode_enabled()
        if buffer is None or stale or buffer.numel() != numel or buffer.dtype != x.dtype:
            buffer = torch.empty(numel, dtype=x.dtype)
            _gates_scratch.buffer = buffer
        return buffer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[2] != self.input_channels:
            raise ValueError(
                f"expected input of shape (batch, time, {self.input_channels}, height, width), got {tuple(x.shape)}"
            )
        batch, steps, channels, height, width = x.shape
        if height % 2 or width % 2:
            raise ValueError(f"height and width must be even, got {height}x{width}")
        half_h, half_w = height // 2, width // 2

        # Time-major, so that each step's input gates are one contiguous (B, H*W, 4*hidden) block.
        frames = x.permute(1, 0, 3, 4, 2).reshape(steps * batch, height * width, channels)
        input_gates = self.encoder.input_gates(
            frames, height, width, out=self._gates_buffer(x, steps * batch * height * width * 4 * self.hidden_channels)
        ).view(steps, batch, height * width, -1)

        zeros = x.new_zeros
        enc = (zeros(batch, height * width, self.hidden_channels), zeros(batch, height * width, self.hidden_channels))
        dec = (zeros(batch, half_h * half_w, 1), zeros(batch, half_h * half_w, 1))
        outputs = []
        for t in range(steps):
            if t == 0:  # zero initial state: the hidden part of the gates is exactly zero
                enc = lstm_update(input_gates[0], enc[1])
            else:
                enc = self.encoder.step(input_gates[t], enc, height, width)
            pooled = spherical_max_pool(enc[0], height, width, stride=2)
            dec_in = torch.cat([pooled, dec[0]], dim=-1)
            dec_gates = spherical_conv(dec_in, self.decoder.weight, self.decoder.bias, half_h, half_w)
            dec = lstm_update(dec_gates, dec[1])
            outputs.append(dec[0].view(batch, 1, half_h, half_w))
        small = torch.stack(outputs, dim=1)  # (B, T, 1, H/2, W/2)
        return small.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)
