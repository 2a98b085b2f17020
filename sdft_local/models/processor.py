"""Loading a Qwen2-VL model folder's tokenizer and processor with transformers.

Owns `read_model_config`, `load_tokenizer` and `load_processor`. The processor is assembled from
the tokenizer and the image processor without a video processor: transformers' Qwen2-VL video
processor needs torchvision, which sdft-local does not depend on (and whose PyPI build breaks
CPU torch). It does not resolve hub ids (see `registry.py`) or load weights (see `loaders.py`).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from ..errors import ModelError

SUPPORTED_MODEL_TYPES = ("qwen2_vl",)


def read_model_config(path: str | Path) -> dict:
    """The folder's config.json, checked to be a model architecture sdft-local supports."""
    config_path = Path(path) / "config.json"
    try:
        config = json.loads(config_path.read_text("utf-8"))
    except FileNotFoundError:
        raise ModelError(
            f"{path}: no config.json; pass a model folder (e.g. a Qwen2-VL download)") from None
    except json.JSONDecodeError as err:
        raise ModelError(
            f"{config_path}: not valid JSON ({err}); download the model again") from None
    model_type = config.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ModelError(
            f"{path}: model_type {model_type!r} is not supported; sdft-local tunes Qwen2-VL models "
            f"(model_type {', '.join(SUPPORTED_MODEL_TYPES)}), e.g. Qwen/Qwen2-VL-2B-Instruct"
        )
    return config


def load_tokenizer(path: str | Path):
    """The folder's tokenizer (a Qwen2Tokenizer for Qwen2-VL), never running remote code."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)


def load_processor(path: str | Path):
    """A `Qwen2VLProcessor` (tokenizer + image processor + chat template), without torchvision."""
    from transformers import AutoImageProcessor

    read_model_config(path)
    tokenizer = load_tokenizer(path)
    image_processor = AutoImageProcessor.from_pretrained(str(path), trust_remote_code=False)
    template = _chat_template(Path(path)) or tokenizer.chat_template
    if not template:
        raise ModelError(f"{path}: no chat template found; the folder needs chat_template.jinja")
    tokenizer.chat_template = template
    return _image_only_processor_class()(
        image_processor=image_processor, tokenizer=tokenizer, video_processor=None,
        chat_template=template,
    )


@functools.cache
def _image_only_processor_class():
    from transformers import Qwen2VLProcessor

    class ImageOnlyQwen2VLProcessor(Qwen2VLProcessor):
        """Qwen2VLProcessor that accepts a missing video processor (no torchvision needed)."""

        def check_argument_for_proper_class(self, argument_name, argument):
            if argument is None and argument_name == "video_processor":
                return type(None)
            return super().check_argument_for_proper_class(argument_name, argument)

    return ImageOnlyQwen2VLProcessor


def _chat_template(folder: Path) -> str | None:
    # Hub Qwen2-VL repos keep the multimodal template in chat_template.json; newer saves use .jinja.
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text("utf-8")
    legacy = folder / "chat_template.json"
    if legacy.is_file():
        return json.loads(legacy.read_text("utf-8")).get("chat_template")
    return None
