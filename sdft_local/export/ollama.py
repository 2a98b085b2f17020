"""The Ollama Modelfile of a GGUF export, and checking that it points at verified files.

Owns the Modelfile text (`FROM` text model, `FROM` mmproj, optional `ADAPTER` GGUF LoRA, the
ChatML stop token, the facts card as `SYSTEM`) and `modelfile_references`, which parses a Modelfile back into the files it
uses. Ollama imports Qwen2-VL only as GGUF (not safetensors, not a safetensors adapter), which is
why this format reuses the GGUF files. Ollama itself is never run: `ollama create` would change
the user's model store.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ExportError

MODELFILE = "Modelfile"


def modelfile_text(model: str, mmproj: str, adapter: str | None = None, *, title: str = "",
                   system: str | None = None) -> str:
    """A Modelfile with paths relative to its own folder; `system` (the facts card) as SYSTEM."""
    lines = [f"# {title}" if title else "# Exported by sdft-local",
             "# Create: ollama create NAME -f Modelfile",
             f"FROM ./{model}", f"FROM ./{mmproj}"]
    if adapter:
        lines.append(f"ADAPTER ./{adapter}")
    lines.append('PARAMETER stop "<|im_end|>"')
    if system:
        lines.append(f'SYSTEM """{system.replace(chr(34) * 3, chr(39) * 3)}"""')
    return "\n".join(lines) + "\n"


def modelfile_system(path: Path) -> str | None:
    """The SYSTEM message of a Modelfile (triple-quoted or one line), or None."""
    text = Path(path).read_text("utf-8")
    start = text.find('SYSTEM """')
    if start >= 0:
        end = text.find('"""', start + 10)
        return text[start + 10:end] if end > 0 else None
    for line in text.splitlines():
        if line.strip().upper().startswith("SYSTEM "):
            return line.strip()[7:].strip()
    return None


def modelfile_references(path: Path) -> dict[str, list[Path]]:
    """{"FROM": [...], "ADAPTER": [...]} resolved against the Modelfile's folder."""
    refs: dict[str, list[Path]] = {"FROM": [], "ADAPTER": []}
    text = Path(path).read_text("utf-8")
    start = text.find('SYSTEM """')
    if start >= 0:  # a multi-line SYSTEM message holds no file references
        end = text.find('"""', start + 10)
        text = text[:start] + (text[end + 3:] if end > 0 else "")
    for line in text.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word.upper() in refs and rest.strip():
            refs[word.upper()].append((Path(path).parent / rest.strip()).resolve())
    return refs


def check_modelfile(path: Path) -> list[Path]:
    """The files a Modelfile uses, all inside its folder and present; ExportError otherwise."""
    refs = modelfile_references(path)
    files = refs["FROM"] + refs["ADAPTER"]
    folder = Path(path).parent.resolve()
    if len(refs["FROM"]) != 2:
        raise ExportError(f"{path}: needs two FROM lines (model and mmproj), has {len(refs['FROM'])}")
    for file in files:
        if folder not in file.parents or not file.is_file():
            raise ExportError(f"{path}: {file} is not a file inside the export folder")
    return files
