"""`make venv`'s choice of PyTorch build (tools/torch_wheels.py): the CPU index on a Linux machine
without an NVIDIA driver when it answers, else PyPI's default with one line saying so; TORCH overrides."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import torch_wheels  # noqa: E402


@pytest.fixture
def fake_index(tmp_path) -> Iterator[str]:
    """A wheel index on localhost serving a ``torch/`` page, as PyTorch's CPU index does."""
    (tmp_path / "index" / "torch").mkdir(parents=True)
    (tmp_path / "index" / "torch" / "index.html").write_text('<a href="torch-2.14.1+cpu-cp311-none-linux_x86_64.whl">x</a>')
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path / "index"))  # noqa: E731
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def closed_port() -> str:
    """A localhost URL nothing listens on (the port was just free)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_no_driver_and_a_reachable_index_installs_the_cpu_build(fake_index):
    choice = torch_wheels.choose("auto", index=fake_index, system="Linux", driver=False)
    assert choice.pip_args == ("--index-url", fake_index)
    assert "CPU build" in choice.reason and "no NVIDIA driver" in choice.reason


def test_an_unreachable_index_falls_back_to_the_default_saying_so():
    index = closed_port()
    choice = torch_wheels.choose("auto", index=index, system="Linux", driver=False)
    assert choice.pip_args == ()
    assert f"{index} did not answer" in choice.reason and "default" in choice.reason and "TORCH=cpu" in choice.reason


def test_an_index_that_never_answers_falls_back_within_the_timeout():
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        index = f"http://127.0.0.1:{silent.getsockname()[1]}"
        assert not torch_wheels.index_reachable(index, timeout=0.5)
        assert torch_wheels.choose("auto", index=index, system="Linux", driver=False, timeout=0.5).pip_args == ()


def test_a_missing_index_page_counts_as_unreachable(fake_index):
    assert torch_wheels.index_reachable(fake_index)
    assert not torch_wheels.index_reachable(f"{fake_index}/elsewhere")  # 404


def test_a_driver_or_another_system_keeps_the_default(fake_index):
    assert torch_wheels.choose("auto", index=fake_index, system="Linux", driver=True).pip_args == ()
    assert torch_wheels.choose("auto", index=fake_index, system="Darwin", driver=False).pip_args == ()


def test_the_driver_is_nvidia_smi_on_path_or_its_proc_entry(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert not torch_wheels.has_nvidia_driver(driver_path=str(tmp_path / "proc-nvidia"))
    (tmp_path / "proc-nvidia").mkdir()
    assert torch_wheels.has_nvidia_driver(driver_path=str(tmp_path / "proc-nvidia"))
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "nvidia-smi").write_text("#!/bin/sh\n")
    (tmp_path / "bin" / "nvidia-smi").chmod(0o755)
    assert torch_wheels.has_nvidia_driver(driver_path=str(tmp_path / "none"))


@pytest.mark.parametrize("driver", [True, False])
def test_torch_variable_overrides_the_machine(driver):
    index = closed_port()  # not even asked: TORCH=cpu insists, pip says it if the index is down
    assert torch_wheels.choose("cpu", index=index, system="Linux", driver=driver).pip_args == ("--index-url", index)
    assert torch_wheels.choose("cuda", index=index, system="Linux", driver=driver).pip_args == ()


def test_command_line_prints_pip_args_and_one_line(fake_index):
    env = dict(os.environ, PATH=os.defpath)
    script = [sys.executable, str(REPO / "tools" / "torch_wheels.py")]
    out = subprocess.run([*script, "--torch", "cpu", "--index", fake_index], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and out.stdout.split() == ["--index-url", fake_index]
    assert out.stderr.splitlines() == [f"torch: the CPU build from {fake_index} (TORCH=cpu)"]
    out = subprocess.run([*script, "--torch", "gpu"], capture_output=True, text=True, env=env)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.splitlines() == ["error: TORCH='gpu' is not one of auto, cpu, cuda: give TORCH=cpu, TORCH=cuda or leave it unset"]


def test_make_venv_passes_torch_and_the_index_to_it(tmp_path):
    """The Makefile's install line (as `make -n` prints it, nothing run) asks the script and uses its answer."""
    out = subprocess.run(["make", "-n", "venv", f"VENV={tmp_path / 'venv'}", "TORCH=cpu", "TORCH_CPU_INDEX=http://mirror/cpu"],
                         cwd=REPO, capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    asking = [i for i, line in enumerate(lines) if "tools/torch_wheels.py --torch 'cpu' --index 'http://mirror/cpu'" in line]
    assert len(asking) == 1
    install = lines[asking[0] + 1]
    assert "pip install" in install and "torch==" in install and install.rstrip().endswith("$torch_index")
