"""The one way the integration tests run the repository's workflow: Snakemake in a subprocess.

Every run uses the test data's checkpoints (``SSTSAL_MODELS``, unless ``models=None`` for a
machine without them), the venv's snakemake first on ``PATH`` (its jobs' scripts run with the
same Python), and raises with the tail of the output when it fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from videoclips import shared_dir

REPO = Path(__file__).resolve().parents[1]
# The workflow's definition (the top-level Snakefile only includes it).
SNAKEFILE = REPO / "workflow" / "Snakefile"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
# The default of ``models``: the test data's checkpoints.
SHARED_MODELS = object()


def environment(*, models: Path | None | object = SHARED_MODELS, **extra: str) -> dict[str, str]:
    """The environment of a run: ``SSTSAL_MODELS`` = ``models`` (the test data's by default,
    unset with None), the venv first on PATH, and ``extra`` variables."""
    env = dict(os.environ, PATH=f"{SNAKEMAKE.parent}{os.pathsep}{os.environ['PATH']}", **extra)
    if models is SHARED_MODELS:
        models = shared_dir() / "models"
        if not (models / "SST_Sal.pth").is_file():
            raise AssertionError(f"missing the published checkpoints in {models}: see tests/testdata.py")
    if models is None:
        env.pop("SSTSAL_MODELS", None)
    else:
        env["SSTSAL_MODELS"] = str(models)
    return env


def command(workdir: Path, *args: str, configfile: Path | None = None, cores: int | None = 2) -> list[str]:
    """The snakemake command line for the repository's workflow (``SNAKEFILE``) in ``workdir``."""
    cmd = [str(SNAKEMAKE), "--snakefile", str(SNAKEFILE), "--directory", str(workdir)]
    if configfile is not None:
        cmd += ["--configfile", str(configfile)]
    if cores is not None:
        cmd += ["--cores", str(cores)]
    return [*cmd, *args]


def run(
    cmd: list[str],
    *,
    cwd: Path = REPO,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float = 900,
) -> subprocess.CompletedProcess:
    """Run ``cmd`` (a :func:`command`, maybe prefixed) with :func:`environment` unless ``env``
    is given; with ``check``, a failure raises with the output's tail."""
    result = subprocess.run(
        cmd, cwd=cwd, env=dict(env) if env is not None else environment(), capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-8000:]}"
        )
    return result


def snakemake(workdir: Path, *args: str, configfile: Path | None = None, cores: int | None = 2, **options) -> subprocess.CompletedProcess:
    """:func:`run` of :func:`command`: the workflow in ``workdir`` with ``args``."""
    return run(command(workdir, *args, configfile=configfile, cores=cores), **options)
