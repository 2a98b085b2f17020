"""Configuration of dialogue synthesis: generation budgets, retries, and which backend writes turn 3.

Owns `SynthConfig` (token budgets, turn-3 attempts, what to do with answers that never validate),
`BackendConfig` (the turn-3 backend's name and model files; a project that names none gets a
local quantized model found on this machine, see `local_models.py`), `EndpointConfig` (an OpenAI-compatible
server: base URL, model, the *name* of the environment variable holding the API key, whether photos
may be sent) and their round trip through a project's settings. Precedence: flags, project
settings, defaults. It never reads or stores an API key itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from urllib.parse import urlsplit

from ..dialogue.answers import AnswerBounds
from ..dialogue.config import DialogueConfig
from ..errors import ConfigError

ON_INVALID = ("template", "error")
SETTINGS_KEY = "synth"


@dataclass(frozen=True)
class EndpointConfig:
    """An OpenAI-compatible server the user enabled for a project (vLLM, llama.cpp, Ollama, ...)."""

    base_url: str = field(metadata={"help": "Base URL including /v1, e.g. http://127.0.0.1:8080/v1."})
    model: str = field(metadata={"help": "Model name the server expects."})
    api_key_env: str | None = field(default=None, metadata={
        "help": "Name of the environment variable holding the API key (the key is never stored)."})
    send_photos: bool = field(default=False, metadata={
        "help": "Send photos to the endpoint; otherwise it gets only captions and facts."})
    timeout_s: float = field(default=60.0, metadata={"help": "Deadline of one request (seconds)."})
    connect_timeout_s: float = 10.0
    retries: int = field(default=3, metadata={"help": "Retries after a timeout, 5xx or bad reply."})
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0

    def __post_init__(self):
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"endpoint URL {self.base_url!r} is not an http(s) URL; give one like "
                f"http://127.0.0.1:8080/v1")
        if not self.model.strip():
            raise ConfigError("endpoint model is empty; give the model name the server serves")
        if self.api_key_env is not None and (not _is_env_name(self.api_key_env)
                                             or looks_like_secret(self.api_key_env)):
            shown = self.api_key_env[:3] + "…" if looks_like_secret(self.api_key_env) else self.api_key_env
            raise ConfigError(
                f"api_key_env {shown!r} is not an environment variable name (it looks like a key); "
                f"give the variable's NAME (e.g. OPENAI_API_KEY) and put the key in it with "
                f"`export OPENAI_API_KEY=...`; nothing was saved")
        if self.timeout_s <= 0 or self.connect_timeout_s <= 0:
            raise ConfigError(
                f"timeouts must be positive (got {self.timeout_s}, {self.connect_timeout_s})")
        if not 0 <= self.retries <= 10:
            raise ConfigError(f"retries={self.retries}: use 0..10")
        if self.backoff_s < 0 or self.max_backoff_s < self.backoff_s:
            raise ConfigError("backoff_s must be >= 0 and max_backoff_s >= backoff_s")


def _is_env_name(name: str) -> bool:
    return bool(name) and name.replace("_", "a").isalnum() and not name[0].isdigit() and name.isascii()


# How providers' keys start (case matters: HF_TOKEN is a variable, hf_... a Hugging Face token).
_KEY_PREFIXES = ("sk-", "sk_", "hf_", "ghp_", "gho_", "ghs_", "ghu_", "github_pat_", "glpat-", "xoxb-",
                 "xoxp-", "AIza", "gsk_", "pplx-", "nvapi-", "r8_")


def looks_like_secret(text: str) -> bool:
    """True for what reads as a pasted API key rather than a variable name: a provider's key
    prefix, or 20+ characters mixing lower case, upper case and digits."""
    if text.startswith(_KEY_PREFIXES):
        return True
    mixed = any(c.islower() for c in text) and any(c.isupper() for c in text) and any(c.isdigit() for c in text)
    return len(text) >= 20 and mixed


BACKEND_NEEDS_MODEL = {"llama-cpp", "llama-cpp-vlm", "mlx-vlm", "transformers"}


@dataclass(frozen=True)
class BackendConfig:
    """Which backend writes turn 3 and with which files (see `synth.backends.BACKENDS`)."""

    name: str = field(default="template", metadata={"help": "Backend name; see `sdft synth --help`."})
    model: str | None = field(default=None, metadata={
        "help": "GGUF file (llama-cpp*), or model folder/id (mlx-vlm, transformers)."})
    mmproj: str | None = field(default=None, metadata={"help": "Vision projector GGUF (llama-cpp-vlm)."})
    n_ctx: int = 1024
    n_threads: int | None = None
    n_gpu_layers: int = 0
    endpoint: EndpointConfig | None = None
    chosen_because: str | None = None  # set when the project named no backend and one was picked

    @property
    def automatic(self) -> bool:
        return self.chosen_because is not None

    def __post_init__(self):
        if self.name in BACKEND_NEEDS_MODEL and not self.model:
            raise ConfigError(
                f"backend {self.name!r} needs a model: pass --synth-model PATH "
                f"(a GGUF file for llama-cpp, a model folder for mlx-vlm/transformers)")
        if self.name == "llama-cpp-vlm" and not self.mmproj:
            raise ConfigError("backend 'llama-cpp-vlm' needs --mmproj PATH (the vision projector GGUF)")
        if self.name == "openai" and self.endpoint is None:
            raise ConfigError(
                "backend 'openai' needs an endpoint: pass --endpoint-url URL --endpoint-model NAME "
                "(and --api-key-env VAR if the server wants a key)")
        if not 128 <= self.n_ctx <= 1_048_576:
            raise ConfigError(f"n_ctx={self.n_ctx}: use 128..1048576")


@dataclass(frozen=True)
class SynthConfig:
    """Everything `synthesize` needs besides the store and the models."""

    dialogue: DialogueConfig = DialogueConfig()
    caption_tokens: int = field(default=128, metadata={"help": "Token budget of turn-1 answers."})
    negative_tokens: int = field(default=32, metadata={"help": "Token budget of turn-2 answers."})
    entity_tokens: int = field(default=160, metadata={"help": "Token budget of turn-3 answers."})
    entity_attempts: int = field(default=3, metadata={
        "help": "Turn-3 tries per dialogue before `on_invalid` applies."})
    temperature: float = field(default=0.2, metadata={"help": "Turn-3 temperature, first try."})
    retry_temperature: float = field(default=0.8, metadata={"help": "Turn-3 temperature, retries."})
    on_invalid: str = field(default="template", metadata={
        "help": "When no turn-3 answer validates: 'template' (record the fallback) or 'error'."})
    bounds: AnswerBounds = AnswerBounds()

    def __post_init__(self):
        for name in ("caption_tokens", "negative_tokens", "entity_tokens"):
            if not 4 <= getattr(self, name) <= 4096:
                raise ConfigError(f"{name}={getattr(self, name)}: use 4..4096")
        if not 1 <= self.entity_attempts <= 10:
            raise ConfigError(f"entity_attempts={self.entity_attempts}: use 1..10")
        if self.on_invalid not in ON_INVALID:
            raise ConfigError(f"on_invalid={self.on_invalid!r}: use one of {', '.join(ON_INVALID)}")
        if not (0 <= self.temperature <= 2 and 0 <= self.retry_temperature <= 2):
            raise ConfigError("temperatures must be within 0..2")


# --- project settings --------------------------------------------------------------------------------

DIALOGUE_KEY = "dialogue"
DIALOGUE_SETTINGS = ("caption_weight", "negative_weight", "entity_weight", "variants", "seed",
                     "hard_negative_rate", "negative_attempts", "system")


def dialogue_from_settings(settings: dict, **flags) -> DialogueConfig:
    """The dialogue config: flags (None = not given) over saved settings over defaults."""
    saved = {k: v for k, v in settings.get(DIALOGUE_KEY, {}).items() if k in DIALOGUE_SETTINGS}
    given = {k: v for k, v in flags.items() if v is not None}
    unknown = set(given) - set(DIALOGUE_SETTINGS)
    if unknown:
        raise ConfigError(f"unknown dialogue setting(s) {sorted(unknown)}; known: {DIALOGUE_SETTINGS}")
    return DialogueConfig(**(saved | given))


def dialogue_settings(config: DialogueConfig) -> dict:
    return {k: getattr(config, k) for k in DIALOGUE_SETTINGS}



def backend_from_settings(settings: dict, **flags) -> BackendConfig:
    """The turn-3 backend: flags (None = not given) over the project's saved settings."""
    saved = dict(settings.get(SETTINGS_KEY, {}))
    endpoint = _endpoint(saved.get("endpoint"), flags.pop("endpoint", None))
    given = {k: v for k, v in flags.items() if v is not None}
    known = {f.name for f in fields(BackendConfig)} - {"endpoint"}
    unknown = set(given) - known
    if unknown:
        raise ConfigError(f"unknown backend option(s) {sorted(unknown)}; known: {sorted(known)}")
    known.discard("chosen_because")
    values = {k: saved[k] for k in known if k in saved} | given
    if "name" not in values:
        values |= _default_backend(values, endpoint)
    return BackendConfig(**values, endpoint=endpoint)


def _default_backend(values: dict, endpoint: EndpointConfig | None) -> dict:
    """The backend of a project that names none: its endpoint, the kind of the model it gives,
    else a local quantized model found on this machine (`local_models.auto_backend`)."""
    if endpoint is not None:
        return {"name": "openai"}
    if values.get("model"):
        gguf = str(values["model"]).endswith(".gguf")
        return {"name": ("llama-cpp-vlm" if values.get("mmproj") else "llama-cpp") if gguf else "transformers"}
    from .local_models import auto_backend

    choice = auto_backend()
    return {**choice.options, "chosen_because": choice.reason}


def _endpoint(saved: dict | None, flags: dict | None) -> EndpointConfig | None:
    merged = {**(saved or {}), **{k: v for k, v in (flags or {}).items() if v is not None}}
    if not merged:
        return None
    if merged.get("api_key_env") == "":  # an empty flag clears a saved variable name
        merged["api_key_env"] = None
    if "base_url" not in merged or "model" not in merged:
        raise ConfigError(
            "the endpoint needs both --endpoint-url and --endpoint-model (saved settings have "
            f"{sorted(merged)})")
    return EndpointConfig(**merged)


def backend_settings(config: BackendConfig) -> dict:
    """What a project remembers about its turn-3 backend (paths and the key's variable name)."""
    skip = {"endpoint", "chosen_because"} | ({"name", "model", "mmproj"} if config.automatic else set())
    data = {k: v for k, v in asdict(config).items() if v is not None and k not in skip}
    if config.endpoint is not None:
        data["endpoint"] = asdict(config.endpoint)
    return data

