"""Probe one video: sstsal.media.video.probe_video -> results/{video}/video.json (360-degree layout included)."""

from sstsal.pipeline.job import stage_job

with stage_job(snakemake) as stage:
    import sys

    from sstsal.atomic import write_text
    from sstsal.media.video import probe_video

    info = probe_video(snakemake.input[0], sheet=dict(snakemake.params.sheet))
    warnings = [info.aspect_warning] if info.aspect_warning else []
    defaults = {key: why for key, why in info.spherical["reasons"].items() if why.startswith("default (")}
    if defaults:
        taken = " and ".join(f"{key} {info.spherical[key]}" for key in defaults)
        warnings.append(f"{taken}: {next(iter(defaults.values()))}; set it in the sample sheet if that is wrong")
    for warning in warnings:
        stage.warn(warning)
    stage.facts.update(spherical=info.spherical, metadata=info.metadata, side_data=info.side_data)
    print(info.to_json(), file=sys.stderr)
    write_text(snakemake.output[0], info.to_json())
