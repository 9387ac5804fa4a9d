"""Applying the spherical 3x3 sampling to feature maps, on CPU and CUDA, with autograd.

Features are kept pixel-major and channels-last, ``(B, H * W, C)``, so that the taps come
out as ``(B, H_out * W_out, 9 * C)``: exactly the rows a single matrix multiply with the
flattened ``(O, C, 3, 3)`` kernel needs (no im2col copy, no stride-3 convolution).

On CPU the sparse product runs in SciPy (its CSR kernel is an order of magnitude faster
than torch's CPU sparse kernels for this shape); on CUDA it runs in cuSPARSE through torch.
Both are wrapped in one autograd function whose backward is the transposed product, so the
same code trains.
"""

from __future__ import annotations

import concurrent.futures
import functools

import numpy as np
import scipy.sparse
import torch

from sstsal.spherical import bilinear_taps

try:
    from scipy.sparse._sparsetools import csr_matvecs as _csr_matvecs
except ImportError:  # pragma: no cover - private SciPy API; fall back to the public product
    _csr_matvecs = None


@functools.lru_cache(maxsize=16)
def _scipy_matrices(height: int, width: int, stride: int) -> tuple[scipy.sparse.csr_matrix, scipy.sparse.csr_matrix]:
    rows, cols, vals = bilinear_taps(height, width, stride)
    n_out = (-(-height // stride)) * (-(-width // stride)) * 9
    forward = scipy.sparse.csr_matrix((vals.astype(np.float32), (rows, cols)), shape=(n_out, height * width))
    forward.sum_duplicates()
    backward = forward.T.tocsr()
    for m in (forward, backward):  # the kernel wants int32 or int64 indices of one type
        m.indices = m.indices.astype(np.int64)
        m.indptr = m.indptr.astype(np.int64)
    return forward, backward


_torch_cache: dict[tuple[int, int, int, str, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}


def _torch_matrices(height: int, width: int, stride: int, device: torch.device, dtype: torch.dtype):
    key = (height, width, stride, str(device), dtype)
    if key not in _torch_cache:
        forward, backward = _scipy_matrices(height, width, stride)
        _torch_cache[key] = tuple(
            torch.sparse_csr_tensor(
                torch.from_numpy(m.indptr.astype(np.int64)),
                torch.from_numpy(m.indices.astype(np.int64)),
                torch.from_numpy(m.data),
                size=m.shape,
            ).to(device=device, dtype=dtype)
            for m in (forward, backward)
        )
    return _torch_cache[key]


@functools.lru_cache(maxsize=32)
def _row_blocks(
    height: int, width: int, stride: int, transpose: bool, parts: int
) -> list[tuple[int, int, scipy.sparse.csr_matrix]]:
    """The sampling matrix cut into ``parts`` blocks of rows: ``(first row, end row, block)``."""
    matrix = _scipy_matrices(height, width, stride)[int(transpose)]
    bounds = np.linspace(0, matrix.shape[0], parts + 1).astype(int)
    blocks = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        block = matrix[start:stop]
        block.indices, block.indptr = block.indices.astype(np.int64), block.indptr.astype(np.int64)
        blocks.append((int(start), int(stop), block))
    return blocks


_pool: concurrent.futures.ThreadPoolExecutor | None = None


def _scipy_product(x: np.ndarray, height: int, width: int, stride: int, transpose: bool) -> np.ndarray:
    """``S @ x[b]`` for each b (``S.T`` when ``transpose``), written into one preallocated array.

    ``x``: C-contiguous float32 ``(B, n_cols, C)``. Stacking per-batch results would copy the
    largest tensor of the model once more per step, so SciPy's CSR kernel accumulates into
    slices of a zeroed output instead (calloc'd, so zeroing is nearly free). SciPy's kernel is
    single-threaded but releases the GIL, so blocks of rows run on torch's thread count.
    """
    global _pool
    matrix = _scipy_matrices(height, width, stride)[int(transpose)]
    batch, _, channels = x.shape
    n_rows, n_cols = matrix.shape
    out = np.zeros((batch, n_rows, channels), dtype=np.float32)
    if _csr_matvecs is None:  # SciPy without the (private) kernel: same result, one more copy
        for b in range(batch):
            out[b] = matrix @ x[b]
        return out
    threads = max(1, torch.get_num_threads())
    blocks = _row_blocks(height, width, stride, transpose, threads)
    if _pool is None or _pool._max_workers != threads:
        _pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="sstsal-sampling")

    def run(block: tuple[int, int, scipy.sparse.csr_matrix], b: int) -> None:
        start, stop, rows = block
        _csr_matvecs(stop - start, n_cols, channels, rows.indptr, rows.indices, rows.data, x[b].ravel(), out[b, start:stop].ravel())

    # Each output row is computed by exactly one block, in the same order: results do not
    # depend on the number of threads.
    list(_pool.map(lambda job: run(*job), [(block, b) for b in range(batch) for block in blocks]))
    return out


def _sparse_product(x: torch.Tensor, height: int, width: int, stride: int, transpose: bool) -> torch.Tensor:
    """``S @ x[b]`` for every batch element (``S.T`` when ``transpose``); x: (B, rows, C)."""
    if x.device.type == "cpu" and x.dtype == torch.float32:
        return torch.from_numpy(_scipy_product(x.detach().contiguous().numpy(), height, width, stride, transpose))
    matrix = _torch_matrices(height, width, stride, x.device, x.dtype)[int(transpose)]
    batch, rows, channels = x.shape
    columns = x.detach().permute(1, 0, 2).reshape(rows, batch * channels)
    out = matrix @ columns  # (rows_out, B * C)
    return out.view(-1, batch, channels).permute(1, 0, 2)


class _SphericalSample(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, height: int, width: int, stride: int) -> torch.Tensor:
        ctx.geometry = (height, width, stride)
        return _sparse_product(x, height, width, stride, transpose=False)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        height, width, stride = ctx.geometry
        return _sparse_product(grad, height, width, stride, transpose=True), None, None, None


def spherical_taps(x: torch.Tensor, height: int, width: int, stride: int = 1) -> torch.Tensor:
    """Sample the 9 spherical taps of every output pixel.

    ``x``: ``(B, H * W, C)``. Returns ``(B, H_out * W_out, 9 * C)`` with tap-major,
    channel-minor columns (tap ``k = 3 * ky + kx``).
    """
    if x.dim() != 3 or x.shape[1] != height * width:
        raise ValueError(f"expected features of shape (B, {height * width}, C), got {tuple(x.shape)}")
    taps = _SphericalSample.apply(x, height, width, stride)
    return taps.reshape(x.shape[0], -1, 9 * x.shape[2])


def flatten_kernel(weight: torch.Tensor) -> torch.Tensor:
    """``(O, C, 3, 3)`` convolution weights as the ``(9 * C, O)`` matrix matching the taps."""
    out_channels, in_channels = weight.shape[:2]
    return weight.permute(2, 3, 1, 0).reshape(9 * in_channels, out_channels)


def spherical_conv(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, height: int, width: int, *, add: torch.Tensor | None = None
) -> torch.Tensor:
    """Spherical 3x3 convolution, stride 1: ``(B, H * W, C)`` -> ``(B, H * W, O)``.

    ``add`` (``(B, H * W, O)``, contiguous, e.g. the input part of LSTM gates) is summed inside
    the matrix multiply, in place, rather than in a separate pass over the largest tensor.
    """
    taps = spherical_taps(x, height, width)
    batch, pixels, k = taps.shape
    kernel = flatten_kernel(weight)
    taps = taps.view(batch * pixels, k)
    if add is not None:
        # Accumulate in place: addmm with an input first copies it into a new output.
        out = add.reshape(batch * pixels, kernel.shape[1]).addmm_(taps, kernel)
        return (out if bias is None else out + bias).view(batch, pixels, -1)
    if bias is None:
        return (taps @ kernel).view(batch, pixels, -1)
    return torch.addmm(bias, taps, kernel).view(batch, pixels, -1)


def spherical_max_pool(x: torch.Tensor, height: int, width: int, stride: int = 2) -> torch.Tensor:
    """Spherical 3x3 max pooling: ``(B, H * W, C)`` -> ``(B, ceil(H/s) * ceil(W/s), C)``."""
    taps = spherical_taps(x, height, width, stride)
    return taps.view(x.shape[0], -1, 9, x.shape[2]).amax(dim=2)
