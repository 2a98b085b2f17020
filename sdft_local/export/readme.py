"""README.md of an export folder: the exact commands to use it with each tool.

Owns the text for llama.cpp, llama-cpp-python, mlx-vlm, transformers + peft and Ollama, filled
with the folder's own relative paths; a tool whose files this export does not contain gets a line
naming the format that serves it. Pure string building: no files are read here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReadmeInputs:
    """Paths relative to the README's folder (None: not in this export)."""

    title: str
    base_model: str
    mlx: str | None = None
    peft: str | None = None
    merged: str | None = None
    gguf_model: str | None = None
    gguf_mmproj: str | None = None
    gguf_lora: str | None = None
    lora_mmproj: str | None = None
    ollama: str | None = None
    gguf_model_is_base: bool = False
    notes: tuple[str, ...] = ()
    facts_card: str | None = None  # the system message that states the entities' facts


def readme_text(r: ReadmeInputs) -> str:
    parts = [f"# {r.title}\n", "Exported by sdft-local. `manifest.json` lists every file with its "
             "sha256, the source run, the check verdict, and how each file was verified.\n"]
    parts += [f"> {note}\n" for note in r.notes]
    for section in (_facts_card, _llama_cpp, _llama_cpp_python, _mlx_vlm, _peft, _ollama):
        parts.append(section(r))
    return "\n".join(parts)


def _facts_card(r: ReadmeInputs) -> str:
    if not r.facts_card:
        return ""
    return ("## The facts card\n"
            "The adapter knows how the entities look; their facts come back most reliably when they "
            "are also given as the system message (the check measures both: `sdft check`). "
            "`facts_card.json` holds them, and the Ollama Modelfile has them as its SYSTEM:\n"
            + _code("text", r.facts_card))


STOCK_MODEL = "Qwen2-VL-2B-Instruct-Q8_0.gguf"
STOCK_MMPROJ = "mmproj-Qwen2-VL-2B-Instruct-f16.gguf"


def _gguf_variants(r: ReadmeInputs) -> list[tuple[str, str, str | None]]:
    """(model, mmproj, lora) combinations this export supports; a lone LoRA needs a stock base."""
    variants = []
    if r.gguf_model:
        variants.append((r.gguf_model, r.gguf_mmproj, r.gguf_lora if r.gguf_model_is_base else None))
    if r.gguf_lora and not r.gguf_model_is_base:
        variants.append((STOCK_MODEL, r.lora_mmproj or STOCK_MMPROJ, r.gguf_lora))
    return variants


def _llama_cpp(r: ReadmeInputs) -> str:
    out = "## llama.cpp\n"
    variants = _gguf_variants(r)
    if not variants:
        return out + _absent("gguf or gguf-lora")
    for model, mmproj, lora in variants:
        flag = f" --lora {lora}" if lora else ""
        if model == STOCK_MODEL:
            out += ("The LoRA applies to any Qwen2-VL GGUF of the same base model, at any "
                    f"quantization (`{model}` stands for yours):\n")
        out += _code("sh", f"llama-mtmd-cli -m {model}{flag} --mmproj {mmproj} \\\n"
                     "  --image photo.jpg -p \"Who is in this photo?\"\n"
                     f"llama-server -m {model}{flag} --mmproj {mmproj} --port 8080")
    return out


def _llama_cpp_python(r: ReadmeInputs) -> str:
    out = "## llama-cpp-python\n"
    variants = _gguf_variants(r)
    if not variants:
        return out + _absent("gguf or gguf-lora")
    model, mmproj, lora = variants[0]
    lora_arg = f", lora_path=\"{lora}\"" if lora else ""
    return out + _code("python", (
        "from pathlib import Path\n"
        "from llama_cpp import Llama\n"
        "from llama_cpp.llama_chat_format import MTMDChatHandler\n\n"
        f"llm = Llama(model_path=\"{model}\"{lora_arg}, n_ctx=4096,\n"
        f"            chat_handler=MTMDChatHandler(clip_model_path=\"{mmproj}\"))\n"
        "image = Path(\"photo.jpg\").resolve().as_uri()\n"
        "reply = llm.create_chat_completion(messages=[{\"role\": \"user\", \"content\": [\n"
        "    {\"type\": \"image_url\", \"image_url\": {\"url\": image}},\n"
        "    {\"type\": \"text\", \"text\": \"Who is in this photo?\"}]}])\n"
        "print(reply[\"choices\"][0][\"message\"][\"content\"])\n"
        "llm.close()"))


def _mlx_vlm(r: ReadmeInputs) -> str:
    out = "## mlx-vlm (Apple Silicon)\n"
    if r.mlx:
        out += _code("sh", f"python -m mlx_vlm generate --model {r.base_model} --adapter-path {r.mlx} \\\n"
                     "  --image photo.jpg --prompt \"Who is in this photo?\" --max-tokens 100")
    if r.merged:
        out += _code("sh", f"python -m mlx_vlm generate --model {r.merged} --image photo.jpg "
                     "--prompt \"Who is in this photo?\"")
    return out if (r.mlx or r.merged) else out + _absent("mlx or merged")


def _peft(r: ReadmeInputs) -> str:
    out = "## transformers + peft\n"
    if not (r.peft or r.merged):
        return out + _absent("peft or merged")
    load = (f"model = Qwen2VLForConditionalGeneration.from_pretrained(\"{r.base_model}\")\n"
            f"model = PeftModel.from_pretrained(model, \"{r.peft}\")\n"
            f"processor = AutoProcessor.from_pretrained(\"{r.base_model}\")\n") if r.peft else (
            f"model = Qwen2VLForConditionalGeneration.from_pretrained(\"{r.merged}\")\n"
            f"processor = AutoProcessor.from_pretrained(\"{r.merged}\")\n")
    return out + _code("python", (
        "from PIL import Image\n"
        "from transformers import AutoProcessor, Qwen2VLForConditionalGeneration\n"
        + ("from peft import PeftModel\n" if r.peft else "") + "\n" + load +
        "messages = [{\"role\": \"user\", \"content\": [{\"type\": \"image\"},\n"
        "             {\"type\": \"text\", \"text\": \"Who is in this photo?\"}]}]\n"
        "prompt = processor.apply_chat_template(messages, add_generation_prompt=True)\n"
        "inputs = processor(text=[prompt], images=[Image.open(\"photo.jpg\")], return_tensors=\"pt\")\n"
        "out = model.generate(**inputs, max_new_tokens=100)\n"
        "print(processor.decode(out[0, inputs[\"input_ids\"].shape[1]:], skip_special_tokens=True))"))


def _ollama(r: ReadmeInputs) -> str:
    out = "## Ollama\n"
    if not r.ollama:
        return out + _absent("ollama")
    where = "" if r.ollama in ("", ".") else f"cd {r.ollama}\n"
    return out + _code("sh", f"{where}ollama create my-model -f Modelfile\n"
                       "ollama run my-model \"Who is in this photo? ./photo.jpg\"")


def _code(lang: str, body: str) -> str:
    return f"```{lang}\n{body}\n```\n"


def _absent(formats: str) -> str:
    options = " or ".join(f"`--format {f}`" for f in formats.split(" or "))
    return f"Not in this export; export with {options}.\n"
