# The run's settings: the config validated against the schema (defaults filled in), and the
# values derived from it that every other file reads. Nothing here writes into `config`.

import ast
import importlib.util
import os
import sys
from pathlib import Path

import yaml

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

import sstsal
from sstsal.errors import SstsalError
from sstsal.pipeline.config import check_config, coerce_cli_strings


def stop(message):
    """End the run before any job with one ``error:`` line (no Snakemake traceback)."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)


with open(
    workflow.source_path("../../schemas/config.schema.yaml"), encoding="utf-8"
) as _schema_file:
    _schema = yaml.safe_load(_schema_file)
coerce_cli_strings(config, _schema)
# Unknown keys (typos such as `vidoes`) and bad values stop the run in one line, before any job;
# snakemake's validate below only fills in the defaults then.
try:
    check_config(config, _schema)
except SstsalError as exc:
    stop(exc)
validate(config, schema="../../schemas/config.schema.yaml")


# ---- where things are ---------------------------------------------------------------------

RESULTS = "results"
# Used as a `module` with `prefix:` (README, "In a workflow of your own"), Snakemake puts the
# prefix before every relative path of the rules, so the outputs are under it: the files this
# workflow reads itself are found there too (`prefixed`), and the paths the user gives (videos,
# inputs.frames, inputs.flow) stay where they are (`user_path`). Empty in a run of its own.
MODULE_PREFIX = str(workflow.modifier.modify_path(RESULTS))[: -len(RESULTS)]


def prefixed(path):
    """``path`` (a relative path of a rule) where Snakemake puts it in this run."""
    return MODULE_PREFIX + str(path)


def user_path(path):
    """A path from the config as a rule's input: absolute under a module prefix (Snakemake
    prefixes relative paths only), as given otherwise."""
    return os.path.abspath(path) if MODULE_PREFIX else str(path)


BYO_FRAMES = config["inputs"]["frames"]
BYO_FLOW = config["inputs"]["flow"]
FLOW_METHOD_REQUESTED = config["flow"]["method"]
USE_FLOW = FLOW_METHOD_REQUESTED != "none"

if BYO_FLOW and not BYO_FRAMES:
    stop(
        "config inputs.flow needs inputs.frames too: give the frames the flow images belong to"
    )
if BYO_FLOW and not USE_FLOW:
    stop("config inputs.flow is set but flow.method is none: drop one of them")

# chunks of long videos (rules in chunks.smk)

CHUNK_FRAMES = int(config.get("chunk_frames") or 0)

# The camera's settings as one params value: any change reruns the path, the cut and the viewer.
DIRECTOR_CAMERA = {
    key: config["director"][key]
    for key in (
        "fov",
        "smoothing_s",
        "max_speed",
        "max_accel",
        "response_s",
        "dead_zone",
        "switch_margin",
        "cut_angle",
        "cut_after_s",
        "max_pitch",
    )
}


# The module whose OUTPUT_VERSION marks each stage's outputs. The params string is keyed by the
# stage name, so moving a module inside the package does not rerun finished jobs.
STAGE_MODULES = {
    "video": "sstsal.media.video",
    "frames": "sstsal.media.frames",
    "flow": "sstsal.flow.engines",
    "validation": "sstsal.pipeline.validation",
    "inference": "sstsal.model.predictor",
    "render": "sstsal.media.render",
    "summary": "sstsal.viewing.summary",
    "evaluation": "sstsal.evaluation.evaluate",
    "groundtruth": "sstsal.gaze.maps",
    "camera": "sstsal.viewing.camera",
    "director": "sstsal.viewing.director",
    "viewer": "sstsal.viewing.viewer",
    "tiles": "sstsal.streaming.tiles",
    "encode": "sstsal.streaming.encoding",
}


def stage_version(stage):
    """ "<package version>/<stage>-<OUTPUT_VERSION>": a params value that changes when a stage's
    output changes, read from the source without importing the module (torch stays unloaded).
    """
    spec = importlib.util.find_spec(STAGE_MODULES[stage])
    number = "0"
    if spec is not None and spec.origin:
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                getattr(t, "id", None) == "OUTPUT_VERSION" for t in node.targets
            ):
                number = str(ast.literal_eval(node.value))
    return f"{sstsal.__version__}/{stage}-{number}"
