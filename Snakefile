# SST-Sal saliency for a folder of 360-degree equirectangular videos.
# Stages (one job per video each): probe -> frames -> flow -> validate -> inference -> render, summary,
# director, viewer, provenance.
# Config keys: config/README.md. Run: snakemake --cores all [--config videos=/path/to/videos]
# Each rule declares its threads and resources (gpu, mem_mb, runtime: helpers in common/resources.smk);
# the cheap steps say `localrule: True`: on a cluster they run where snakemake runs.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


# Helpers, one subject each: the validated config, the videos and input functions, devices and
# resources, and the hooks around the jobs.
include: "workflow/rules/common/config.smk"
include: "workflow/rules/common/inputs.smk"
include: "workflow/rules/common/resources.smk"
include: "workflow/rules/common/hooks.smk"
include: "workflow/rules/probe.smk"
include: "workflow/rules/frames.smk"
include: "workflow/rules/flow.smk"
include: "workflow/rules/validation.smk"
include: "workflow/rules/inference.smk"
include: "workflow/rules/chunks.smk"  # chunk_frames > 0: flow and inference per chunk (cluster engineer)
include: "workflow/rules/render.smk"
include: "workflow/rules/summary.smk"
include: "workflow/rules/viewing.smk"  # director.mp4 and viewer.html: ways to see the result
include: "workflow/rules/provenance.smk"  # results/<video>/provenance.json from each stage's record
include: "workflow/rules/evaluate.smk"  # ground_truth set: metrics per video, summary, plots; `snakemake train`
include: "workflow/rules/streaming.smk"  # tiles.csv per video; encode.enabled: encoded/ (ROI and uniform)


rule all:
    default_target: True
    input:
        all_outputs() + evaluation_outputs() + viewing_outputs() + streaming_outputs(),
    localrule: True
