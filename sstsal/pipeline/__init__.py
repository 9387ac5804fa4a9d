"""What the workflow's stages share: input validation, chunks of long videos, the saliency stack,
atomic outputs, per-video summaries and the glue that runs a Snakemake job."""
