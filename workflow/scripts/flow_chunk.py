"""Flow images of one chunk of a video: sstsal.pipeline.chunks.compute_flow_chunk.

The params are the whole-video flow rule's, mapped by the same sstsal.pipeline.job.flow_options.
"""

from sstsal.pipeline.job import flow_options, gpu_request, job_log

with job_log(snakemake.log[0], threads=snakemake.threads, **gpu_request(snakemake)):
    from sstsal.pipeline.chunks import compute_flow_chunk, parse_chunk_label

    params = snakemake.params
    compute_flow_chunk(
        snakemake.input.frames,
        snakemake.output.chunk,
        frame_range=parse_chunk_label(snakemake.wildcards.chunk),
        raw_npy=params.raw_dir is not None,
        **flow_options(params),
    )
