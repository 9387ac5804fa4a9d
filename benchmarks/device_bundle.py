"""Fill ``.device/`` with what an offline GPU machine lacks for ``benchmarks/device_e2e.sh``.

Run here (with network to PyPI), not on the GPU machine: ``bash benchmarks/device_e2e.sh --prepare``.

The GPU machine (Python 3.12, torch, torchvision, numpy, scipy, OpenCV, pandas, tqdm,
safetensors, pyyaml and the packages in DEVICE_HAS) has no snakemake and no ffmpeg, and no
network. The bundle holds:

- ``wheels/``: cp312 manylinux or pure-Python wheels of every package of this project's
  requirements (snakemake and its needs, ffmpeg-python, imageio-ffmpeg) that the machine lacks,
  at the versions installed here (the ones the tests ran with). A package published only as an
  sdist is built here with ``pip wheel`` and must come out pure Python. imageio-ffmpeg comes
  from its sdist, without the 170 MB binary of its platform wheels.
- ``ffmpeg.xz``: the static ffmpeg of an imageio-ffmpeg platform wheel (FFMPEG_WHEEL), xz-compressed.
- ``models/``: the SST-Sal checkpoint, ``videos/``: the test clip, both from ../shared.

RAFT weights are not brought: the GPU run draws random ones (speed does not depend on them).
Everything the device call carries must stay within 64 MiB; this script checks it.
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import lzma
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
LIMIT = 64 << 20  # what one device call may carry: working tree + carried folders
# What the bundle must make importable there, besides what the machine has.
ROOTS = ("snakemake", "ffmpeg-python", "imageio-ffmpeg")
# Always from the sdist: the platform wheels carry a 170 MB ffmpeg (brought as ffmpeg.xz instead).
FROM_SDIST = {"imageio-ffmpeg"}
# The ffmpeg brought along: 7.0.2 static (80 MB, 20 MB as xz), the smallest of imageio-ffmpeg's
# builds that has what sstsal.media uses (-fps_mode, ffmpeg >= 5.1); this venv's 9.x is 170 MB.
FFMPEG_WHEEL = "imageio-ffmpeg==0.6.0"
# The GPU machine's Python packages (.library/device/KINDS.md, 'Python packages already there').
DEVICE_HAS = set("""
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core
cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock
flatbuffers flax fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx
huggingface-hub humanize hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin
jaxlib jaxtyping jinja2 joblib kiwisolver lazy-loader lightning lightning-utilities linear-operator lineax
llvmlite lxml markdown markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack
multidict multipledispatch mypy-extensions nanobind narwhals networkx ninja numba numba-cuda numpy numpyro
nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft
nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13 nvidia-ml-py
nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript
opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging pandas pathspec
patsy peft pillow pip pluggy portalocker prometheus-client propcache protobuf psutil pyarrow pybind11
py-cpuinfo pygments pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock
pytest-timeout pytest-xdist python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu
safetensors scikit-build-core scikit-image scikit-learn scipy seaborn sentencepiece sentence-transformers
setuptools shellingham simplejson six sortedcontainers statsmodels sympy tabulate tensorboard
tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz torch torchaudio
torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers treescope triton typer
typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp
""".split())
# Markers are evaluated for the GPU machine's interpreter, not this one.
TARGET_ENV = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
              "platform_system": "Linux", "platform_machine": "x86_64", "implementation_name": "cpython",
              "platform_python_implementation": "CPython", "os_name": "posix", "extra": ""}  # fmt: skip
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64")  # fmt: skip


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def needed(requirements: list[str]) -> list[str]:
    """Names (canonical) of ``requirements`` that apply on the GPU machine."""
    names = []
    for line in requirements:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(TARGET_ENV):
            names.append(canonical(requirement.name))
    return names


def missing_there() -> dict[str, str]:
    """{name: version installed here} of every package the roots need that the machine lacks."""
    versions: dict[str, str] = {}
    todo = list(ROOTS)
    while todo:
        name = canonical(todo.pop())
        if name in versions or name in DEVICE_HAS:
            continue
        distribution = metadata.distribution(name)
        versions[name] = distribution.version
        todo += needed(distribution.requires or [])
    return dict(sorted(versions.items()))


def pip(*args: str) -> bool:
    result = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    return result.returncode == 0


def fetch_wheel(name: str, version: str, dest: Path) -> Path:
    """A wheel of ``name==version`` for CPython 3.12 on x86-64 Linux, in ``dest``."""
    before = set(dest.iterdir())
    spec = f"{name}=={version}"
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    got = name not in FROM_SDIST and pip(
        "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp",
        "--abi", "cp312", "--abi", "abi3", "--abi", "none", *platforms, "--platform", "any", "-d", str(dest), spec,
    )  # fmt: skip
    if not got and not pip("wheel", "-q", "--no-deps", "--no-binary=:all:", "-w", str(dest), spec):
        raise SystemExit(f"error: no cp312 x86-64 wheel of {spec} and its sdist does not build: bring it by hand")
    new = [p for p in set(dest.iterdir()) - before if p.suffix == ".whl"]
    if len(new) != 1:
        raise SystemExit(f"error: expected one wheel of {spec} in {dest}, found {[p.name for p in new]}")
    tags = new[0].stem.split("-")[-3:]
    if not got and tags[1:] != ["none", "any"]:
        raise SystemExit(f"error: the wheel built from the sdist of {spec} is not pure Python ({new[0].name})")
    return new[0]


def check_closed(wheels: list[Path]) -> None:
    """Every requirement of every bundled wheel is bundled or on the machine already."""
    bundled = {canonical(w.name.split("-")[0]) for w in wheels}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            lines = archive.read(meta).decode("utf-8").splitlines()
        requires = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Requires-Dist:")]
        for name in needed(requires):
            if name not in bundled and name not in DEVICE_HAS:
                raise SystemExit(f"error: {wheel.name} needs {name}, neither bundled nor on the GPU machine")


def compress_ffmpeg(dest: Path, cache: Path) -> Path:
    """The static ffmpeg of FFMPEG_WHEEL as ``dest/ffmpeg.xz`` (x86 filter + LZMA2; reused if made)."""
    out, stamp = dest / "ffmpeg.xz", dest / "ffmpeg.xz.source"
    if out.is_file() and stamp.is_file() and stamp.read_text().strip() == FFMPEG_WHEEL:
        return out
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("imageio_ffmpeg-*manylinux*.whl"))
    if not wheels:
        platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
        if not pip("download", "-q", "--no-deps", "--only-binary=:all:", *platforms, "-d", str(cache), FFMPEG_WHEEL):
            raise SystemExit(f"error: cannot download {FFMPEG_WHEEL}: check the connection to PyPI")
        wheels = sorted(cache.glob("imageio_ffmpeg-*manylinux*.whl"))
    with zipfile.ZipFile(wheels[-1]) as archive:
        member = next(n for n in archive.namelist() if "/binaries/ffmpeg-" in n)
        binary = archive.read(member)
    print(f"compressing {member} ({len(binary) >> 20} MiB) with xz; a few minutes", flush=True)
    filters = [{"id": lzma.FILTER_X86}, {"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]
    tmp = out.with_suffix(".partial")
    with lzma.open(tmp, "wb", format=lzma.FORMAT_XZ, filters=filters) as target:
        target.write(binary)
    os.replace(tmp, out)
    stamp.write_text(FFMPEG_WHEEL + "\n")
    return out


def tree_bytes() -> int:
    """Bytes of the working tree that travels (tracked and untracked, not ignored)."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO, capture_output=True,
        check=True,
    ).stdout.split(b"\0")  # fmt: skip
    return sum((REPO / f.decode()).stat().st_size for f in files if f and (REPO / f.decode()).is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", default=str(REPO / ".device"), help="the bundle folder (default: .device)")
    parser.add_argument("--shared", default=os.environ.get("SSTSAL_SHARED", str(REPO.parent / "shared")))
    args = parser.parse_args()
    dest, shared = Path(args.dest), Path(args.shared)
    for needed_file in ("models/SST_Sal.pth", "videos/testRoom1_1920Mono.mp4"):
        if not (shared / needed_file).is_file():
            raise SystemExit(f"error: {shared / needed_file} is missing: set SSTSAL_SHARED to the shared folder")
    wheels_dir = dest / "wheels"
    shutil.rmtree(wheels_dir, ignore_errors=True)
    wheels_dir.mkdir(parents=True)
    wheels = []
    for name, version in missing_there().items():
        wheel = fetch_wheel(name, version, wheels_dir)
        wheels.append(wheel)
        print(f"  {wheel.name:<72} {wheel.stat().st_size / 1e6:6.2f} MB", flush=True)
    check_closed(wheels)
    for sub, name in (("models", "SST_Sal.pth"), ("videos", "testRoom1_1920Mono.mp4")):
        (dest / sub).mkdir(exist_ok=True)
        shutil.copyfile(shared / sub / name, dest / sub / name)
    compress_ffmpeg(dest, REPO / "build" / "device-cache")
    bundle = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    tree = tree_bytes()
    print(f"bundle {dest}: {bundle / 2**20:.1f} MiB; working tree {tree / 2**20:.1f} MiB; "
          f"together {(bundle + tree) / 2**20:.1f} MiB of the {LIMIT >> 20} MiB a device call carries")  # fmt: skip
    if bundle + tree > LIMIT:
        raise SystemExit("error: the bundle and the working tree exceed what a device call carries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
