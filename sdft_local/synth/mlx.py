"""The mlx-vlm turn-3 backend: a vision-language model folder on MLX (Metal; mlx-cpu elsewhere).

Owns loading — Qwen2-VL folders through the project's loader and processor (no torchvision), with
the detokenizer and stopping criteria mlx-vlm's generator expects attached; any other folder
through `mlx_vlm.load` — and one `mlx_vlm.generate` call per answer with the photo in the last user
turn. Paths are made absolute: mlx-vlm treats a string that is not an existing path as a hub id.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ModelError
from .backends import Capabilities, GenerationOptions, PromptedBackend
from .config import BackendConfig


class MlxVlmBackend(PromptedBackend):
    capabilities = Capabilities(sees_images=True)

    def __init__(self, config: BackendConfig):
        from ..models.registry import resolve_model

        self.path = resolve_model(config.model).resolve()
        self.name = f"mlx-vlm:{Path(str(config.model)).name}"
        self.model, self.processor = _load(self.path)

    def chat(self, messages: list[dict], image: Path | None, options: GenerationOptions) -> str:
        import mlx_vlm

        structured = _image_last(messages) if image is not None else messages
        prompt = self.processor.apply_chat_template(structured, add_generation_prompt=True,
                                                    tokenize=False)
        result = mlx_vlm.generate(
            self.model, self.processor, prompt, image=[str(image)] if image else None,
            max_tokens=options.max_tokens, temperature=options.temperature, seed=options.seed,
            verbose=False, skip_special_tokens=True,
        )
        return result.text.strip()

    def close(self) -> None:
        self.model = None


def make_mlx_vlm(config: BackendConfig) -> MlxVlmBackend:
    return MlxVlmBackend(config)


def _load(path: Path):
    try:
        import mlx_vlm
    except ImportError:
        raise ModelError("the mlx-vlm backend needs `pip install 'sdft-local[mlx]'`") from None
    config = json.loads((path / "config.json").read_text("utf-8"))
    if config.get("model_type") != "qwen2_vl":
        return mlx_vlm.load(path)
    from ..models.loaders import load_mlx_student

    model, processor = load_mlx_student(path)
    return model, _with_generation_helpers(processor, path, config)


def _with_generation_helpers(processor, path: Path, config: dict):
    """What `mlx_vlm.load` attaches to a processor: a streaming detokenizer and stop criteria."""
    from mlx_vlm.tokenizer_utils import load_tokenizer
    from mlx_vlm.utils import StoppingCriteria

    eos = config.get("eos_token_id")
    processor.detokenizer = load_tokenizer(path, return_tokenizer=False)(processor.tokenizer)
    processor.tokenizer.stopping_criteria = StoppingCriteria(
        eos if isinstance(eos, list) else [eos], processor.tokenizer)
    return processor


def _image_last(messages: list[dict]) -> list[dict]:
    last = messages[-1]
    content = [{"type": "image"}, {"type": "text", "text": last["content"]}]
    return [*messages[:-1], {"role": last["role"], "content": content}]
