"""Validate the frame/flow set: sstsal.pipeline.validation.validate_frame_set -> validation.json."""

from sstsal.pipeline.job import stage_job

with stage_job(snakemake) as stage:
    from sstsal.media.frames import read_manifest
    from sstsal.pipeline.validation import validate_frame_set, write_validation

    inputs = snakemake.input
    manifest = read_manifest(inputs.manifest) if inputs.get("manifest") else None
    report = validate_frame_set(
        inputs.frames,
        inputs.get("flow") or None,
        expected_numbers=None if manifest is None else manifest["indices"],
    )
    write_validation(snakemake.output[0], report)
