"""The files of the catalog's standardized usage and of the container: the workflow in
workflow/Snakefile with a thin top-level entry, the catalog's usage file, the container's pinned
dependencies against pyproject.toml, and `snakemake -d .test --rulegraph` from the repository."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from snakemake_run import REPO, SNAKEMAKE, environment

CATALOG = REPO / ".snakemake-workflow-catalog.yml"


def test_the_workflow_is_workflow_snakefile_and_the_top_level_one_only_includes_it():
    assert (REPO / "workflow" / "Snakefile").is_file() and (REPO / "config" / "README.md").is_file()
    code = [line for line in (REPO / "Snakefile").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert code == ['include: "workflow/Snakefile"', 'workflow.default_target = "all"']
    # includes relative to workflow/Snakefile, every one of them there
    for name in re.findall(r'^include: "([^"]+)"', (REPO / "workflow" / "Snakefile").read_text(), flags=re.M):
        assert (REPO / "workflow" / name).is_file(), name


def test_catalog_usage_file_has_the_catalogs_sections():
    usage = yaml.safe_load(CATALOG.read_text())["usage"]
    assert set(usage) == {"mandatory-flags", "software-stack-deployment", "report"}
    assert usage["mandatory-flags"]["desc"] and usage["mandatory-flags"]["flags"]
    methods = usage["software-stack-deployment"]
    assert set(methods) <= {"conda", "apptainer", "apptainer+conda", "singularity", "singularity+conda"}
    assert any(methods.values()) and all(isinstance(v, bool) for v in methods.values())
    # apptainer is claimed: the workflow names its image (config `container`) and the recipe exists
    assert methods["apptainer"] and 'container: config.get("container")' in (REPO / "workflow" / "Snakefile").read_text()
    assert (REPO / "container" / "sstsal.def").is_file()


def pins() -> dict[str, str]:
    """{normalised name: version} of container/requirements.txt."""
    found = {}
    for line in (REPO / "container" / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            [spec] = requirement.specifier
            assert spec.operator == "==", line
            found[re.sub(r"[-_.]+", "-", requirement.name).lower()] = spec.version
    return found


def test_the_container_pins_every_dependency_within_pyprojects_ranges():
    pinned = pins()
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    for line in dependencies:
        requirement = Requirement(line)
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pinned, f"{name} is not pinned in container/requirements.txt"
        assert requirement.specifier.contains(pinned[name]), (line, pinned[name])
    assert "sstsal" not in pinned  # the package itself is installed from the source, --no-deps
    # the PyTorch the Makefile installs, the newest release tested
    makefile = (REPO / "Makefile").read_text()
    assert f"torch=={pinned['torch']}" in makefile and f"torchvision=={pinned['torchvision']}" in makefile


def test_both_recipes_run_the_same_install_steps():
    for recipe in ("Dockerfile", "sstsal.def"):
        text = (REPO / "container" / recipe).read_text()
        assert "sh /opt/sstsal-pipeline/container/install.sh /opt/sstsal-pipeline" in text, recipe
    script = (REPO / "container" / "install.sh").read_text()
    assert '-r "$source_dir/container/requirements.txt"' in script and '--no-deps "$source_dir"' in script


@pytest.mark.slow
def test_rulegraph_of_the_test_config_from_the_repository_folder():
    demo = subprocess.run([sys.executable, "-m", "sstsal", "demo-data", str(REPO / ".test" / "data" / "videos")],
                          capture_output=True, text=True)  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    # no --snakefile: Snakemake finds the Snakefile in the folder it starts in
    out = subprocess.run([str(SNAKEMAKE), "-d", ".test", "--rulegraph"], cwd=REPO, env=environment(),
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    rules = set(re.findall(r'label = "(\w+)"', out.stdout))
    assert {"all", "probe", "extract_frames", "flow", "validate", "inference", "render", "provenance"} <= rules, out.stdout
    assert out.stdout.lstrip().startswith("digraph snakemake_dag {") and " -> " in out.stdout
