"""Turn-3 backends on llama-cpp-python: a local text GGUF, or a vision GGUF with its mmproj.

Owns loading (with errors that name the file and the fix), one chat completion per answer, and
closing the model explicitly (llama-cpp-python raises at interpreter exit otherwise). The text
backend composes from the base model's caption; the vision backend gets the photo as a data URI
through llama.cpp's multimodal handler. Prompts come from `prompts.py`, validation from `compose.py`.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from ..errors import BackendError, ModelError
from .backends import Capabilities, GenerationOptions, PromptedBackend
from .config import BackendConfig


REREAD_TOKENS = 16


class LlamaCppBackend(PromptedBackend):
    """A GGUF chat model on llama.cpp (CPU, Metal or CUDA, as llama-cpp-python was built)."""

    capabilities = Capabilities(sees_images=False)

    def __init__(self, config: BackendConfig, *, chat_handler=None):
        self.model_path = _existing_file(config.model, "GGUF model", "--synth-model")
        self.name = f"llama-cpp:{self.model_path.name}"
        self._llm = _load_llama(self.model_path, config, chat_handler)
        self._last: tuple[list[dict], int] | None = None  # the last prompt and its token count

    def chat(self, messages: list[dict], image: Path | None, options: GenerationOptions) -> str:
        if image is not None:
            messages = _with_image(messages, image)
        if self._last is not None and messages == self._last[0]:
            # llama-cpp-python 0.3.36 answers an exact repeat of the last prompt from a broken
            # cache (it replays one token, then writes nonsense), while a prompt that extends a
            # cached prefix is correct: forget the prompt's tail so a retry re-reads it.
            self._llm.n_tokens = max(0, self._last[1] - REREAD_TOKENS)
        try:
            out = self._llm.create_chat_completion(
                messages=messages, max_tokens=options.max_tokens,
                temperature=options.temperature, seed=options.seed,
            )
        except ValueError as err:  # llama-cpp-python reports context overflow this way
            raise BackendError(
                f"{self.name}: {err}; raise the context size (BackendConfig.n_ctx) or use a "
                f"shorter caption budget") from None
        self._last = (messages, int(out["usage"]["prompt_tokens"]))
        return out["choices"][0]["message"].get("content") or ""

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None


class LlamaCppVisionBackend(LlamaCppBackend):
    """A vision GGUF + mmproj: the photo itself goes into the prompt."""

    capabilities = Capabilities(sees_images=True)

    def __init__(self, config: BackendConfig):
        from llama_cpp.llama_chat_format import MTMDChatHandler

        mmproj = _existing_file(config.mmproj, "mmproj (vision projector) GGUF", "--mmproj")
        handler = MTMDChatHandler(clip_model_path=str(mmproj), verbose=False,
                                  use_gpu=config.n_gpu_layers != 0)
        super().__init__(config, chat_handler=handler)
        self.name = f"llama-cpp-vlm:{self.model_path.name}+{mmproj.name}"
        _init_vision(self._llm, handler, mmproj, use_gpu=config.n_gpu_layers != 0)

    def chat(self, messages: list[dict], image: Path | None, options: GenerationOptions) -> str:
        from llama_cpp._utils import suppress_stdout_stderr

        # mtmd logs every prompt part to stderr regardless of `verbose`.
        with suppress_stdout_stderr(disable=False):
            return super().chat(messages, image, options)


def make_llama_text(config: BackendConfig) -> LlamaCppBackend:
    return LlamaCppBackend(config)


def make_llama_vlm(config: BackendConfig) -> LlamaCppVisionBackend:
    return LlamaCppVisionBackend(config)


def _existing_file(path: str | None, what: str, flag: str) -> Path:
    if not path:
        raise ModelError(f"no {what} given; pass {flag} PATH")
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        raise ModelError(f"{what} {path!r} does not exist; check the path given to {flag}")
    return resolved.resolve()


def _load_llama(path: Path, config: BackendConfig, chat_handler):
    try:
        from llama_cpp import Llama
    except ImportError:
        raise ModelError(
            "the llama-cpp backends need llama-cpp-python; install it with "
            "`pip install 'sdft-local[gguf]'`") from None
    threads = config.n_threads or max(1, (os.cpu_count() or 2) // 2)
    try:
        return Llama(model_path=str(path), n_ctx=config.n_ctx, n_threads=threads,
                     n_gpu_layers=config.n_gpu_layers, chat_handler=chat_handler,
                     seed=0, verbose=False)
    except (ValueError, RuntimeError) as err:
        raise ModelError(
            f"{path.name}: llama.cpp cannot load it ({err}); is it a GGUF chat model?") from None


def _init_vision(llm, handler, mmproj: Path, *, use_gpu: bool) -> None:
    """Attach the vision projector now (without mtmd's slow warm-up), or fail naming the file."""
    from ..models.llamacpp import attach_mmproj

    if not attach_mmproj(llm, handler, mmproj, use_gpu=use_gpu):
        llm.close()
        raise ModelError(f"{mmproj.name}: llama.cpp cannot load it as a vision projector "
                         f"(mmproj) for {Path(llm.model_path).name}")


def _with_image(messages: list[dict], image: Path) -> list[dict]:
    uri = "data:image/png;base64," + base64.b64encode(Path(image).read_bytes()).decode("ascii")
    last = messages[-1]
    content = [{"type": "image_url", "image_url": {"url": uri}},
               {"type": "text", "text": last["content"]}]
    return [*messages[:-1], {"role": last["role"], "content": content}]
