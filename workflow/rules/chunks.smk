# Long videos on a cluster: with config `chunk_frames: N` (N > 0) the flow and inference stages
# run as one job per chunk of at most N frames, so one video's chunks spread over several GPUs.
# The gather rules then write exactly the outputs of the whole-video rules `flow` and `inference`
# (same folders, bit-identical PNGs, the same float16 stack), so validation, render and summary
# do not know chunks exist. With chunk_frames 0 (the default) nothing here is defined.
#
#   frames ──> chunk_plan (checkpoint: counts the frames, writes chunks/plan.json)
#   flow_frames ──> flow_chunk (one job per chunk) ──> gather_flow ──> results/{video}/flow
#   frames + flow + validation ──> inference_chunk (per chunk) ──> gather_saliency
#                                                  ──> results/{video}/saliency + saliency.npz
#
# The chunk rules take their settings from the whole-video rules (`rules.flow.params`,
# `rules.inference.params`), so a setting added there reaches the chunks too; the gather rules
# carry the same params, so a changed setting reruns them (the chunk folders are temporary and
# gone after a finished run) and through them the chunks.
# CHUNK_FRAMES and the input functions (chunk_labels, *_chunk_dirs) are in common/config.smk and common/inputs.smk.

if CHUNK_FRAMES > 0:

    wildcard_constraints:
        chunk=r"\d+-\d+",

    # Both a whole-video rule and a gather rule can make these outputs: with chunks, gather.
    ruleorder: gather_flow > flow
    ruleorder: gather_saliency > inference

    checkpoint chunk_plan:
        """Count the video's sampled frames and split their index range into chunks."""
        input:
            frames=model_frames,
        output:
            plan=result("{video}", "chunks/plan.json"),
        log:
            "logs/chunk_plan/{video}.log",
        localrule: True
        conda:
            "../envs/sstsal.yaml"
        params:
            chunk_frames=CHUNK_FRAMES,
        script:
            "../scripts/chunk_plan.py"

    rule flow_chunk:
        """Flow images of one chunk's frames (the pair across the chunk's end uses the next frame)."""
        input:
            frames=flow_source_frames,
            plan=result("{video}", "chunks/plan.json"),
        output:
            chunk=temp(directory(result("{video}", "chunks/flow/{chunk}"))),
            record=temp(result("{video}", "chunks/records/flow/{chunk}.json")),
        log:
            "logs/flow_chunk/{video}/{chunk}.log",
        benchmark:
            "logs/benchmarks/flow_chunk/{video}/{chunk}.tsv"
        conda:
            "../envs/sstsal.yaml"
        threads: 4
        resources:
            gpu=gpu_request(FLOW_GPU),
            mem_mb=flow_sized(8000),
            runtime=flow_sized(60),
        params:
            **dict(rules.flow.params.items()),
        script:
            "../scripts/flow_chunk.py"

    rule gather_flow:
        """The chunks' flow images as one folder, as the whole-video flow rule writes it."""
        input:
            chunks=flow_chunk_dirs,
            records=flow_chunk_records,
            frames=flow_source_frames,
        output:
            flow=directory(result("{video}", "flow")),
            record=stage_record("flow"),
        log:
            "logs/gather_flow/{video}.log",
        benchmark:
            "logs/benchmarks/gather_flow/{video}.tsv"
        localrule: True
        conda:
            "../envs/sstsal.yaml"
        params:
            **dict(rules.flow.params.items()),
            chunk_frames=CHUNK_FRAMES,
        script:
            "../scripts/gather_flow.py"

    rule inference_chunk:
        """Saliency maps of one chunk's frames (each window warms up on the frames before it)."""
        input:
            frames=model_frames,
            flow=flow_images,
            validation=result("{video}", "validation.json"),
            plan=result("{video}", "chunks/plan.json"),
            info=video_info,
        output:
            chunk=temp(directory(result("{video}", "chunks/saliency/{chunk}"))),
            record=temp(result("{video}", "chunks/records/saliency/{chunk}.json")),
        log:
            "logs/inference_chunk/{video}/{chunk}.log",
        benchmark:
            "logs/benchmarks/inference_chunk/{video}/{chunk}.tsv"
        conda:
            "../envs/sstsal.yaml"
        threads: 4
        resources:
            gpu=gpu_request(GPU),
            mem_mb=per_attempt(8000),
            runtime=per_attempt(60),
        params:
            **dict(rules.inference.params.items()),
        script:
            "../scripts/inference_chunk.py"

    rule gather_saliency:
        """The chunks' maps as the saliency folder and float16 stack of the whole-video rule."""
        input:
            chunks=saliency_chunk_dirs,
            records=saliency_chunk_records,
            frames=model_frames,
            info=video_info,
        output:
            maps=directory(result("{video}", "saliency")),
            stack=result("{video}", "saliency.npz"),
            record=stage_record("inference"),
        log:
            "logs/gather_saliency/{video}.log",
        benchmark:
            "logs/benchmarks/gather_saliency/{video}.tsv"
        conda:
            "../envs/sstsal.yaml"
        # not local: it copies every map of the video (a window at a time) into the stack
        threads: 2
        resources:
            mem_mb=per_attempt(16000),
            runtime=per_attempt(30),
        params:
            **dict(rules.inference.params.items()),
            chunk_frames=CHUNK_FRAMES,
        script:
            "../scripts/gather_saliency.py"
