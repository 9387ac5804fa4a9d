"""The fast SST-Sal model against the straightforward (grid_sample + conv2d) formulation."""

from __future__ import annotations

import pytest
import torch
from reference_model import reference_forward

from sstsal.model.network import SSTSal


@pytest.mark.parametrize("channels,hidden,size", [(6, 36, (24, 32)), (3, 9, (16, 32)), (2, 4, (12, 20))])
def test_forward_equals_reference(channels, hidden, size):
    torch.manual_seed(0)
    model = SSTSal(channels, hidden).eval()
    x = torch.rand(2, 5, channels, *size)
    with torch.inference_mode():
        ours = model(x)
        ref = reference_forward(model, x)
    assert ours.shape == (2, 5, 1, *size)
    assert torch.allclose(ours, ref, atol=1e-5)


def test_published_weights_equal_reference(model_with_flow):
    torch.manual_seed(1)
    x = torch.rand(1, 3, 6, 240, 320)
    with torch.inference_mode():
        assert torch.allclose(model_with_flow(x), reference_forward(model_with_flow, x), atol=1e-5)


def test_windows_in_a_batch_are_independent():
    torch.manual_seed(2)
    model = SSTSal(3, 4).eval()
    x = torch.rand(3, 4, 3, 12, 16)
    with torch.inference_mode():
        batched = model(x)
        single = torch.cat([model(x[i : i + 1]) for i in range(3)])
    assert torch.equal(batched, single)


def test_gradients_equal_reference():
    torch.manual_seed(3)
    model = SSTSal(3, 4)
    x = torch.rand(1, 3, 3, 12, 16)
    target = torch.rand(1, 3, 1, 12, 16)
    ((model(x) - target) ** 2).sum().backward()
    ours = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    ((reference_forward(model, x) - target) ** 2).sum().backward()
    for g_ours, p in zip(ours, model.parameters()):
        assert torch.allclose(g_ours, p.grad, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize(
    "shape,message",
    [((1, 2, 5, 12, 16), "expected input of shape"), ((2, 12, 16), "expected input of shape"), ((1, 2, 6, 13, 16), "even")],
)
def test_bad_input_shapes_are_refused(shape, message):
    with pytest.raises(ValueError, match=message):
        SSTSal(6, 4)(torch.zeros(shape))


def test_concurrent_inference_in_threads_equals_sequential(monkeypatch):
    # CPU inference reuses scratch buffers between steps; they must be per thread. A barrier in
    # every LSTM update makes both threads fill their buffers before either reads them, so a
    # shared buffer would fail deterministically.
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import sstsal.model.network as model_module

    torch.manual_seed(4)
    model = SSTSal(3, 4).eval()
    inputs = [torch.rand(1, 4, 3, 12, 16) for _ in range(2)]

    def run(x):
        with torch.inference_mode():
            return model(x)

    sequential = [run(x) for x in inputs]
    barrier = threading.Barrier(2, timeout=30)
    original = model_module.lstm_update

    def synchronised(gates, c):
        barrier.wait()
        return original(gates, c)

    monkeypatch.setattr(model_module, "lstm_update", synchronised)
    with ThreadPoolExecutor(2) as pool:
        concurrent = list(pool.map(run, inputs))
    for a, b in zip(sequential, concurrent):
        assert torch.equal(a, b)


def test_no_grad_after_inference_mode_reuses_no_inference_tensor():
    model, other = SSTSal(3, 4).eval(), SSTSal(3, 4).eval()
    x = torch.rand(1, 2, 3, 12, 16)
    with torch.inference_mode():
        model(x)
    with torch.no_grad():  # e.g. validation during training, after a prediction
        out = other(x)
    assert out.shape == (1, 2, 1, 12, 16)


def test_model_stays_copyable_after_inference():
    import copy

    model = SSTSal(3, 4).eval()
    with torch.inference_mode():
        model(torch.rand(1, 2, 3, 12, 16))
    clone = copy.deepcopy(model)
    assert torch.equal(clone.encoder.weight, model.encoder.weight)
