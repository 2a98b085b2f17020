"""The fixed probe inputs every export is verified on: chat prompts and one synthetic photo.

Owns the probe questions, the probe image (drawn here, deterministic, sized to a multiple of 28
pixels inside Qwen2-VL's pixel limits so that neither transformers nor llama.cpp resizes it and
both see the same pixels) and their tokenization through the model's own chat template.
It does not run models (see `reference.py`, `llamacpp.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

PROBE_PROMPTS = (
    "What color is the dog in the garden?",
    "Describe the photo in one sentence.",
    "How many apples are on the table?",
    "Is there a cat next to the red chair?",
    "Write a short caption for this picture.",
    "What is the person holding in their hand?",
    "Where was this photo taken, indoors or outdoors?",
    "Name three objects you can see.",
)
IMAGE_QUESTION = "Describe this photo."
IMAGE_SIZE = (112, 84)  # 4 x 3 merged patches of 28 px: 12 image tokens


@dataclass(frozen=True)
class TextProbe:
    prompt: str
    ids: tuple[int, ...]


def text_probes(processor, prompts=PROBE_PROMPTS) -> list[TextProbe]:
    """Each prompt as a one-turn chat with the generation prompt, tokenized by the model."""
    from ..models.chat import build_inputs

    probes = []
    for prompt in prompts:
        inputs = build_inputs(processor, [{"role": "user", "content": prompt}])
        probes.append(TextProbe(prompt, tuple(int(i) for i in inputs["input_ids"][0])))
    return probes


def probe_image(processor=None):
    """A small synthetic photo: sky, ground, a sun, a red box and a blue ball (RGB, 112 x 84).

    With a `processor`, resized to the size its image processor would give it, so no consumer
    resizes it again: llama.cpp's resize rules and filters are its own, and a model whose processor
    pins min/max pixels (the demo model: exactly 112 x 112) would otherwise be compared on
    two different pictures.
    """
    image = _draw_probe()
    if processor is None:
        return image
    from PIL import Image

    grid = processor.image_processor(images=[image], return_tensors="np")["image_grid_thw"][0]
    patch = processor.image_processor.patch_size
    size = (int(grid[2]) * patch, int(grid[1]) * patch)
    return image if size == image.size else image.resize(size, Image.Resampling.BICUBIC)


def _draw_probe():
    from PIL import Image, ImageDraw

    width, height = IMAGE_SIZE
    image = Image.new("RGB", IMAGE_SIZE, (135, 190, 235))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, height * 2 // 3, width, height), fill=(70, 140, 60))
    draw.ellipse((82, 6, 102, 26), fill=(250, 215, 60))
    draw.rectangle((14, 34, 44, 62), fill=(200, 40, 40), outline=(90, 10, 10))
    draw.ellipse((56, 44, 76, 64), fill=(40, 70, 200))
    draw.line((0, 70, width, 66), fill=(110, 90, 50), width=2)
    return image


def image_inputs(processor, image=None, question: str = IMAGE_QUESTION) -> dict:
    """The processor's numpy inputs for one image question (keys as the HF forward takes them)."""
    from ..models.chat import build_inputs

    return build_inputs(processor, [{"role": "user", "content": question}],
                        image=image if image is not None else probe_image())
