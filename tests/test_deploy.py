"""The workflow deployed as the Snakemake workflow catalog deploys it (marked slow): with
`snakedeploy deploy-workflow` into a project folder of its own, and as a `module` (with a prefix)
of another workflow that has a rule of its own reading our saliency.npz.

GitHub is played by a local clone of this repository (its committed HEAD, tagged ``TAG``) in
GitHub's URL layout: git's ``url.<base>.insteadOf`` sends both snakedeploy's clone and Snakemake's
fetch of the module's source from https://github.com/OWNER/sstsal-pipeline to it, so the commands
run exactly as a user types them. The sstsal package the jobs import is the one installed here.
Both runs use the settings of the shared reference run (tests/clip_workflow.py) and must
reproduce its outputs bit for bit.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from clip_workflow import VIDEO, assert_same_results, clip_config, new_workdir, reference_run
from snakemake_run import REPO, SNAKEMAKE, environment, run
from videoclips import make_clip

from sstsal.media.saliency_stack import load_stack

pytestmark = pytest.mark.slow

OWNER = "sstsal"
TAG = "v0.1.0"
SOURCE = f"https://github.com/{OWNER}/sstsal-pipeline"
SNAKEDEPLOY = Path(sys.executable).parent / "snakedeploy"


@pytest.fixture(scope="module")
def github(tmp_path_factory) -> dict[str, str]:
    """The environment in which ``SOURCE`` at ``TAG`` is this repository's HEAD, with Snakemake's
    source cache of its own."""
    root = tmp_path_factory.mktemp("github")
    clone = root / "mirror" / OWNER / "sstsal-pipeline"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "tag", TAG], check=True)
    return environment(
        GIT_CONFIG_COUNT="1",
        GIT_CONFIG_KEY_0=f"url.file://{root / 'mirror'}/.insteadOf",
        GIT_CONFIG_VALUE_0="https://github.com/",
        XDG_CACHE_HOME=str(root / "cache"),
    )


def test_deployed_workflow_runs_in_a_project_folder_of_its_own(tmp_path, github):
    project = tmp_path / "my-project"
    run([str(SNAKEDEPLOY), "deploy-workflow", SOURCE, str(project), "--tag", TAG], cwd=tmp_path, env=github)
    snakefile = (project / "workflow" / "Snakefile").read_text()
    assert f'github("{OWNER}/sstsal-pipeline", path="workflow/Snakefile", tag="{TAG}")' in snakefile
    assert "use rule * from sstsal_pipeline" in snakefile
    # the template config and the profiles come along; the project then gets its own settings and videos
    assert (project / "config" / "config.yaml").read_text() == (REPO / "config" / "config.yaml").read_text()
    assert (project / "config" / "README.md").is_file() and (project / "profiles" / "default" / "config.yaml").is_file()
    new_workdir(project)
    assert yaml.safe_load((project / "config" / "config.yaml").read_text())["flow"]["method"] == "dis"

    # `snakemake --cores 2` in the project folder, as the catalog's usage says: no --snakefile, no --directory
    out = run([str(SNAKEMAKE), "--cores", "2"], cwd=project, env=github)
    assert f"Cloning github.com/{OWNER}/sstsal-pipeline" in out.stderr  # the module's source came from "GitHub"
    assert_same_results(project, reference_run())
    for name in ("overlay.mp4", "director.mp4", "viewer.html", "provenance.json"):
        assert (project / "results" / VIDEO / name).stat().st_size > 0
    assert (project / "logs" / "inference" / f"{VIDEO}.log").is_file()
    again = run([str(SNAKEMAKE), "--cores", "2", "-n"], cwd=project, env=github)
    assert "Nothing to be done" in again.stdout + again.stderr


STUDY_SNAKEFILE = f"""\
configfile: "config/config.yaml"


module sstsal:
    snakefile:
        github("{OWNER}/sstsal-pipeline", path="workflow/Snakefile", tag="{TAG}")
    config:
        config["sstsal"]
    prefix:
        "saliency"


use rule * from sstsal as sstsal_*


rule all:
    default_target: True
    input:
        "peaks.csv",


rule peak_frames:
    input:
        expand(rules.sstsal_inference.output.stack, video="{VIDEO}"),
    output:
        "peaks.csv",
    log:
        "logs/peak_frames.log",
    run:
        import numpy as np

        stack = np.load(input[0])
        means = stack["maps"].astype(np.float32).mean(axis=(1, 2))
        with open(output[0], "w") as out:
            for name, mean in zip(stack["names"], means):
                out.write(f"{{name}},{{mean:.6f}}\\n")
"""


def test_module_with_a_prefix_next_to_a_rule_of_its_own(tmp_path, github):
    study = tmp_path / "study"
    make_clip(study / "videos" / f"{VIDEO}.mp4", width=256, height=128, fps=24, seconds=3.5)  # the clip of new_workdir
    (study / "config").mkdir()
    (study / "config" / "config.yaml").write_text(yaml.safe_dump({"sstsal": clip_config()}))
    (study / "Snakefile").write_text(STUDY_SNAKEFILE)

    run([str(SNAKEMAKE), "--cores", "2"], cwd=study, env=github)
    # the module's outputs and logs under its prefix; its videos folder where the study's config says
    produced = study / "saliency"
    assert (produced / "results" / VIDEO / "saliency.npz").is_file()
    assert (produced / "logs" / "inference" / f"{VIDEO}.log").is_file()
    assert not (study / "results").exists() and not (produced / "videos").exists()
    # only what the study's rule needs ran: no overlay, director's cut or viewer
    assert not (produced / "results" / VIDEO / "overlay.mp4").exists()
    maps, names = load_stack(produced / "results" / VIDEO / "saliency.npz")
    ref_maps, ref_names = load_stack(reference_run() / "results" / VIDEO / "saliency.npz")
    assert names == ref_names and np.array_equal(maps.view(np.uint16), ref_maps.view(np.uint16))
    rows = [line.split(",") for line in (study / "peaks.csv").read_text().splitlines()]
    assert [r[0] for r in rows] == list(ref_names)
    np.testing.assert_allclose([float(r[1]) for r in rows], ref_maps.astype(np.float32).mean(axis=(1, 2)), atol=1e-6)
