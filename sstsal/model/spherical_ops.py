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
import threading

import numpy as np
import scipy.sparse
import torch

from sstsal.model.spherical import bilinear_taps

try:
    from scipy.sparse._sparsetools import csr_matvecs as _csr_matvecs
except ImportError:  # pragma: no cover - private SciPy API; fall back to the public product
    _csr_matvecs = None


@functools.lru_cache(maxsize=16)
def _scipy_matrices(
    height: int, width: int, stride: int, summed: bool = False
) -> tuple[scipy.sparse.csr_matrix, scipy.sparse.csr_matrix]:
    """Forward and transposed sampling matrices.

    ``summed=False``: ``(9 * P_out, H * W)``, one row per tap (row ``9 * p + k``).
    ``summed=True``: ``(P_out, 9 * H * W)``, one row per output pixel summing its 9 taps, each
    tap ``k`` reading its own copy of the input (columns ``k * H * W + q``): for convolutions
    with fewer outputs than inputs, whose kernel is applied before sampling.
    """
    rows, cols, vals = bilinear_taps(height, width, stride)
    n_out = (-(-height // stride)) * (-(-width // stride)) * 9
    shape = (n_out, height * width)
    if summed:
        rows, cols = rows // 9, (rows % 9) * (height * width) + cols
        shape = (n_out // 9, 9 * height * width)
    forward = scipy.sparse.csr_matrix((vals.astype(np.float32), (rows, cols)), shape=shape)
    forward.sum_duplicates()
    backward = forward.T.tocsr()
    for m in (forward, backward):  # the kernel wants int32 or int64 indices of one type
        m.indices = m.indices.astype(np.int64)
        m.indptr = m.indptr.astype(np.int64)
    return forward, backward


_torch_cache: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def _torch_matrices(geometry: tuple[int, int, int, bool], device: torch.device, dtype: torch.dtype):
    key = (*geometry, str(device), dtype)
    if key not in _torch_cache:
        forward, backward = _scipy_matrices(*geometry)
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
    geometry: tuple[int, int, int, bool], transpose: bool, parts: int
) -> list[tuple[int, int, scipy.sparse.csr_matrix]]:
    """The sampling matrix cut into ``parts`` blocks of rows: ``(first row, end row, block)``."""
    matrix = _scipy_matrices(*geometry)[int(transpose)]
    bounds = np.linspace(0, matrix.shape[0], parts + 1).astype(int)
    blocks = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        block = matrix[start:stop]
        block.indices, block.indptr = block.indices.astype(np.int64), block.indptr.astype(np.int64)
        blocks.append((int(start), int(stop), block))
    return blocks


_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


# Per thread, so that models run from several threads never share a buffer.
_scratch_by_thread = threading.local()


def release_sampling_scratch() -> None:
    """Free this thread's sampling buffers."""
    _scratch_by_thread.buffers = {}


def _scipy_product(
    x: np.ndarray, geometry: tuple[int, int, int, bool], transpose: bool, scratch: bool = False
) -> np.ndarray:
    """``S @ x[b]`` for each b (``S.T`` when ``transpose``), written into one preallocated array.

    ``x``: C-contiguous float32 ``(B, n_cols, C)``. Stacking per-batch results would copy the
    largest tensor of the model once more per step, so SciPy's CSR kernel accumulates into
    slices of a zeroed output instead. SciPy's kernel is single-threaded but releases the GIL,
    so blocks of rows run on torch's thread count.

    With ``scratch`` the output is a buffer kept for the next call of the same shape (valid
    until then): a fresh 100-200 MB array per step costs more in page faults than the
    sampling itself.
    """
    global _pool
    matrix = _scipy_matrices(*geometry)[int(transpose)]
    batch, _, channels = x.shape
    n_rows, n_cols = matrix.shape
    shape = (batch, n_rows, channels)
    if scratch:
        if not hasattr(_scratch_by_thread, "buffers"):
            _scratch_by_thread.buffers = {}
        _scratch: dict[tuple[int, ...], np.ndarray] = _scratch_by_thread.buffers
        out = _scratch.pop(shape, None)
        if out is None:
            out = np.empty(shape, dtype=np.float32)
        _scratch[shape] = out  # most recent last; keep a few shapes (model steps use three)
        while len(_scratch) > 4:
            del _scratch[next(iter(_scratch))]
    else:
        out = np.zeros(shape, dtype=np.float32)  # calloc'd: zero pages until written
    if _csr_matvecs is None:  # SciPy without the (private) kernel: same result, one more copy
        for b in range(batch):
            out[b] = matrix @ x[b]
        return out
    threads = max(1, torch.get_num_threads())
    blocks = _row_blocks(geometry, transpose, threads)
    with _pool_lock:
        if _pool is None or _pool._max_workers != threads:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="sstsal-sampling")
        pool = _pool

    def run(block: tuple[int, int, scipy.sparse.csr_matrix], b: int) -> None:
        start, stop, rows = block
        if scratch:
            out[b, start:stop] = 0.0  # the kernel accumulates
        _csr_matvecs(stop - start, n_cols, channels, rows.indptr, rows.indices, rows.data, x[b].ravel(), out[b, start:stop].ravel())

    # Each output row is computed by exactly one block, in the same order: results do not
    # depend on the number of threads.
    list(pool.map(lambda job: run(*job), [(block, b) for b in range(batch) for block in blocks]))
    return out


def _sparse_product(
    x: torch.Tensor, geometry: tuple[int, int, int, bool], transpose: bool, scratch: bool = False
) -> torch.Tensor:
    """``S @ x[b]`` for every batch element (``S.T`` when ``transpose``); x: (B, rows, C)."""
    if x.device.type == "cpu" and x.dtype == torch.float32:
        return torch.from_numpy(_scipy_product(x.detach().contiguous().numpy(), geometry, transpose, scratch))
    matrix = _torch_matrices(geometry, x.device, x.dtype)[int(transpose)]
    batch, rows, channels = x.shape
    columns = x.detach().permute(1, 0, 2).reshape(rows, batch * channels)
    out = matrix @ columns  # (rows_out, B * C)
    return out.view(-1, batch, channels).permute(1, 0, 2)


class _SphericalSample(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, geometry: tuple[int, int, int, bool]) -> torch.Tensor:
        ctx.geometry = geometry
        return _sparse_product(x, geometry, transpose=False)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return _sparse_product(grad, ctx.geometry, transpose=True), None


def spherical_taps(x: torch.Tensor, height: int, width: int, stride: int = 1) -> torch.Tensor:
    """Sample the 9 spherical taps of every output pixel.

    ``x``: ``(B, H * W, C)``. Returns ``(B, H_out * W_out, 9 * C)`` with tap-major,
    channel-minor columns (tap ``k = 3 * ky + kx``).
    """
    return _taps(x, height, width, stride, scratch=False)


def _taps(x: torch.Tensor, height: int, width: int, stride: int, *, scratch: bool) -> torch.Tensor:
    if x.dim() != 3 or x.shape[1] != height * width:
        raise ValueError(f"expected features of shape (B, {height * width}, C), got {tuple(x.shape)}")
    if scratch and x.device.type == "cpu" and not torch.is_grad_enabled():
        # Consumed at once by the caller and never saved for a backward pass.
        taps = _sparse_product(x, (height, width, stride, False), transpose=False, scratch=True)
    else:
        taps = _SphericalSample.apply(x, (height, width, stride, False))
    return taps.reshape(x.shape[0], -1, 9 * x.shape[2])


def flatten_kernel(weight: torch.Tensor) -> torch.Tensor:
    """``(O, C, 3, 3)`` convolution weights as the ``(9 * C, O)`` matrix matching the taps."""
    out_channels, in_channels = weight.shape[:2]
    return weight.permute(2, 3, 1, 0).reshape(9 * in_channels, out_channels)


def spherical_conv(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    height: int,
    width: int,
    *,
    add: torch.Tensor | None = None,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Spherical 3x3 convolution, stride 1: ``(B, H * W, C)`` -> ``(B, H * W, O)``.

    ``add`` (``(B, H * W, O)``, contiguous, e.g. the input part of LSTM gates) is summed inside
    the matrix multiply, in place, rather than in a separate pass over the largest tensor.
    ``out`` (contiguous, ``B * H * W * O`` elements) receives the result when given (no autograd).
    """
    batch, pixels, channels = x.shape
    out_channels = weight.shape[0]
    if add is None and out_channels < channels:
        # Fewer outputs than inputs (the decoder: 37 -> 4): apply the kernel first, then sample
        # and sum the 9 taps of the O channels instead of sampling all C channels.
        per_tap = (x @ weight.permute(1, 2, 3, 0).reshape(channels, 9 * out_channels)).view(batch, pixels, 9, out_channels)
        per_tap = per_tap.permute(0, 2, 1, 3).reshape(batch, 9 * pixels, out_channels)
        out = _SphericalSample.apply(per_tap, (height, width, 1, True))
        return out if bias is None else out + bias
    taps = _taps(x, height, width, 1, scratch=True)
    kernel = flatten_kernel(weight)
    taps = taps.view(batch * pixels, 9 * channels)
    if add is not None:
        # Accumulate in place: addmm with an input first copies it into a new output.
        out = add.reshape(batch * pixels, out_channels).addmm_(taps, kernel)
        return (out if bias is None else out + bias).view(batch, pixels, -1)
    result = taps @ kernel if out is None else torch.mm(taps, kernel, out=out.view(batch * pixels, out_channels))
    # Adding the bias in place after the product: addmm(bias, ...) would first copy the
    # broadcast bias into the (large) output and then read it back.
    return (result if bias is None else result.add_(bias)).view(batch, pixels, -1)


def spherical_max_pool(x: torch.Tensor, height: int, width: int, stride: int = 2) -> torch.Tensor:
    """Spherical 3x3 max pooling: ``(B, H * W, C)`` -> ``(B, ceil(H/s) * ceil(W/s), C)``."""
    taps = _taps(x, height, width, stride, scratch=True)
    return taps.view(x.shape[0], -1, 9, x.shape[2]).amax(dim=2)
