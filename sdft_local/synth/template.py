"""The template backend: deterministic turn-3 answers without any model.

Used in tests, as the no-model default, and as the fallback when a model's answers never
validate. The answer is `dialogue.answers.template_answer`, seeded by the generation seed, so a
rerun writes the same text. It reads no files and sends nothing.
"""

from __future__ import annotations

import random
from pathlib import Path

from ..dialogue.answers import EntityRequest, template_answer
from .backends import Capabilities, GenerationOptions
from .config import BackendConfig


class TemplateBackend:
    name = "template"
    capabilities = Capabilities(templated=True)

    def compose(self, request: EntityRequest, image: Path | None,
                options: GenerationOptions) -> str:
        return template_answer(request, random.Random(options.seed))

    def close(self) -> None:
        return None


def make_template(config: BackendConfig) -> TemplateBackend:
    return TemplateBackend()
