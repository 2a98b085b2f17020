"""llama-cpp-python glue shared by synthesis (a VLM GGUF as turn-3 backend) and export (verifying
the written mmproj): attaching a vision projector to a loaded `Llama`.

It owns only that; loading GGUF files and chat formats stay with their callers.
"""

from __future__ import annotations

from pathlib import Path


def attach_mmproj(llm, handler, mmproj: Path, *, use_gpu: bool) -> bool:
    """Give `handler` (an MTMDChatHandler) an mtmd context for `mmproj` on `llm`'s model, freed
    with `llm`; False if llama.cpp refuses the file.

    The context is made here without mtmd's warm-up pass on a large dummy image (seconds on a
    CPU even for a tiny model); the first real photo pays that cost instead.
    """
    import llama_cpp.mtmd_cpp as mtmd
    from llama_cpp._utils import suppress_stdout_stderr

    params = mtmd.mtmd_context_params_default()
    params.use_gpu = use_gpu
    params.print_timings = False
    params.n_threads = llm.n_threads
    params.warmup = False
    with suppress_stdout_stderr(disable=False):
        ctx = mtmd.mtmd_init_from_file(str(mmproj).encode(), llm.model, params)
    if ctx is None:
        return False
    handler.mtmd_ctx = ctx

    def free() -> None:
        with suppress_stdout_stderr(disable=False):
            mtmd.mtmd_free(ctx)
        handler.mtmd_ctx = None

    llm._stack.callback(free)
    return True
