"""The transformers turn-3 backend: a local (or downloaded) model folder, vision-language or text.

Owns loading (safetensors only, no remote code; Qwen2-VL through the project's processor, which
needs no torchvision; other vision-language models through `AutoProcessor`; text models through
`AutoTokenizer` + `AutoModelForCausalLM`) and one `generate` call per answer, with the photo in the
last user turn when the model can see. It does not validate or retry (see `compose.py`).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ModelError
from .backends import Capabilities, GenerationOptions, PromptedBackend
from .config import BackendConfig


class TransformersBackend(PromptedBackend):
    def __init__(self, config: BackendConfig, *, device: str = "auto"):
        from ..models.loaders import pick_device
        from ..models.registry import resolve_model

        self.path = resolve_model(config.model)
        self.name = f"transformers:{Path(str(config.model)).name}"
        self.device = pick_device(device)
        model_config = json.loads((self.path / "config.json").read_text("utf-8"))
        self.vision = "vision_config" in model_config
        self.capabilities = Capabilities(sees_images=self.vision)
        self.model, self.processor = _load(self.path, model_config, self.vision, self.device)

    def chat(self, messages: list[dict], image: Path | None, options: GenerationOptions) -> str:
        import torch

        inputs = self._inputs(messages, image)
        torch.manual_seed(options.seed)
        sample = options.temperature > 0
        extra = {"temperature": options.temperature, "top_p": 0.95} if sample else {}
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=options.max_tokens,
                                      do_sample=sample, **extra)
        new = out[0, inputs["input_ids"].shape[1]:]
        return _tokenizer(self.processor).decode(new, skip_special_tokens=True).strip()

    def _inputs(self, messages: list[dict], image: Path | None) -> dict:
        from ..models.chat import load_image

        if not self.vision:
            ids = self.processor.apply_chat_template(messages, add_generation_prompt=True,
                                                     return_tensors="pt", return_dict=True)
            return {k: v.to(self.device) for k, v in ids.items()}
        structured = _image_last(messages) if image is not None else messages
        prompt = self.processor.apply_chat_template(structured, add_generation_prompt=True,
                                                    tokenize=False)
        images = [load_image(image)] if image is not None else None
        out = self.processor(text=[prompt], images=images, return_tensors="pt")
        return {k: v.to(self.device) for k, v in out.items()}

    def close(self) -> None:
        self.model = None


def make_transformers(config: BackendConfig) -> TransformersBackend:
    return TransformersBackend(config)


def _load(path: Path, config: dict, vision: bool, device: str):
    try:
        import transformers
    except ImportError:
        raise ModelError("the transformers backend needs `pip install 'sdft-local[torch]'`") from None
    if not vision:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            str(path), trust_remote_code=False, use_safetensors=True)
        return model.to(device).eval(), tokenizer
    if config.get("model_type") == "qwen2_vl":
        from ..models.loaders import load_torch_student

        return load_torch_student(path, device=device)
    processor = transformers.AutoProcessor.from_pretrained(str(path), trust_remote_code=False)
    model = transformers.AutoModelForImageTextToText.from_pretrained(
        str(path), trust_remote_code=False, use_safetensors=True)
    return model.to(device).eval(), processor


def _tokenizer(processor):
    return getattr(processor, "tokenizer", processor)


def _image_last(messages: list[dict]) -> list[dict]:
    last = messages[-1]
    content = [{"type": "image"}, {"type": "text", "text": last["content"]}]
    return [*messages[:-1], {"role": last["role"], "content": content}]
