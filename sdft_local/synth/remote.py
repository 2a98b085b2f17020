"""The OpenAI-compatible endpoint backend (vLLM, llama.cpp server, Ollama, hosted APIs).

Owns the HTTP exchange: a reachability check before a run, `POST {base}/chat/completions` with a
whole-request deadline (a server that trickles bytes forever still times out), retries with
exponential backoff on timeouts, connection errors, 429/5xx and malformed replies, and errors that
say what to do. The API key is read from the environment variable the project names, at request
time; it is never stored, logged, or echoed (server messages are redacted). Photos are attached only
when the endpoint's `send_photos` is set; otherwise the server sees captions and facts only.
Stdlib `http.client` only: no proxy is consulted, so loopback servers are reached directly.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from pathlib import Path
from urllib.parse import urlsplit

from .. import __version__
from ..errors import BackendError
from .backends import Capabilities, GenerationOptions, PromptedBackend
from .config import BackendConfig, EndpointConfig

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class _Retryable(Exception):
    """A failure worth another try (timeout, reset, 5xx, unreadable reply)."""

    def __init__(self, reason: str, wait: float = 0.0):
        super().__init__(reason)
        self.reason, self.wait = reason, wait


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: dict
    body: bytes


class OpenAIBackend(PromptedBackend):
    def __init__(self, endpoint: EndpointConfig, *, sleep=time.sleep):
        self.endpoint = endpoint
        self.base = endpoint.base_url.rstrip("/")
        self.name = f"openai:{endpoint.model}@{urlsplit(self.base).netloc}"
        self.capabilities = Capabilities(sees_images=endpoint.send_photos, remote=True)
        self._sleep = sleep
        self.on_retry = None  # called with a (redacted) line before each retry: the CLI shows it

    # -- the backend --------------------------------------------------------------------------

    def chat(self, messages: list[dict], image: Path | None, options: GenerationOptions) -> str:
        if image is not None:
            messages = _with_image(messages, image)
        payload = {"model": self.endpoint.model, "messages": messages, "stream": False,
                   "max_tokens": options.max_tokens, "temperature": options.temperature,
                   "seed": options.seed}
        with self._redacted():
            return self._with_retries(lambda: _content(self._post_json("/chat/completions", payload)))

    def check(self) -> None:
        """Fail fast, before any work, if the server cannot be reached or refuses the key."""
        with self._redacted():
            self._check()

    @contextmanager
    def _redacted(self):
        """Every error leaving the backend has the key (and any bearer token) blanked out."""
        try:
            yield
        except BackendError as err:
            raise BackendError(self._redact(err.message), err.title) from None

    def _check(self) -> None:
        self._api_key()
        try:
            reply = self._exchange("GET", "/models", None, self.endpoint.connect_timeout_s)
        except _Retryable as err:
            raise BackendError(self._unreachable(err.reason, 1)) from None
        if reply.status in (401, 403):
            raise BackendError(self._auth_message(reply))

    # -- HTTP ---------------------------------------------------------------------------------

    def _with_retries(self, call):
        tries = self.endpoint.retries + 1
        for attempt in range(tries):
            try:
                return call()
            except _Retryable as err:
                if attempt == tries - 1:
                    raise BackendError(self._unreachable(err.reason, tries)) from None
                delay = min(self.endpoint.backoff_s * 2**attempt, self.endpoint.max_backoff_s)
                delay = max(delay, min(err.wait, self.endpoint.max_backoff_s))
                if self.on_retry is not None:
                    self.on_retry(self._redact(f"{self.base}: attempt {attempt + 1} of {tries} failed "
                                               f"({err.reason}); retrying in {delay:g} s"))
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _post_json(self, path: str, payload: dict) -> dict:
        reply = self._exchange("POST", path, json.dumps(payload).encode(), self.endpoint.timeout_s)
        self._raise_for_status(reply)
        try:
            data = json.loads(reply.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise _Retryable(f"malformed JSON in the reply ({_snippet(reply.body)!r})") from None
        if not isinstance(data, dict):
            raise _Retryable(f"unexpected reply {_snippet(reply.body)!r}")
        return data

    def _exchange(self, method: str, path: str, body: bytes | None, timeout: float) -> _Reply:
        parts = urlsplit(self.base + path)
        cls = HTTPSConnection if parts.scheme == "https" else HTTPConnection
        conn = cls(parts.hostname, parts.port, timeout=self.endpoint.connect_timeout_s)
        deadline = time.monotonic() + timeout
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            conn.connect()
            sock = conn.sock
            sock.settimeout(_remaining(deadline, timeout))
            conn.request(method, target, body=body, headers=self._headers(body is not None))
            response = conn.getresponse()
            body = _read_all(response, sock, deadline, timeout)
            return _Reply(response.status, dict(response.headers), body)
        except (socket.timeout, TimeoutError):
            raise _Retryable(f"no complete reply within {timeout:g} s") from None
        except socket.gaierror as err:
            raise _Retryable(f"cannot resolve host {parts.hostname!r} ({err.strerror})") from None
        except (ConnectionError, HTTPException, OSError) as err:
            raise _Retryable(f"connection failed ({type(err).__name__}: {err})") from None
        finally:
            conn.close()

    def _headers(self, has_body: bool) -> dict:
        headers = {"Accept": "application/json", "User-Agent": f"sdft-local/{__version__}"}
        if has_body:
            headers["Content-Type"] = "application/json"
        key = self._api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _api_key(self) -> str | None:
        var = self.endpoint.api_key_env
        if not var:
            return None
        key = os.environ.get(var)
        if not key:
            raise BackendError(
                f"the endpoint's API key is read from the environment variable {var}, which is "
                f"not set; run `export {var}=...` first, or clear it with --api-key-env ''")
        return key

    def _raise_for_status(self, reply: _Reply) -> None:
        if reply.status == 200:
            return
        if reply.status in RETRY_STATUS:
            raise _Retryable(f"HTTP {reply.status} ({self._redact(_snippet(reply.body))})",
                             _retry_after(reply.headers))
        if reply.status in (401, 403):
            raise BackendError(self._auth_message(reply))
        if reply.status == 404:
            raise BackendError(
                f"HTTP 404 from {self.base}/chat/completions: check that the base URL ends with "
                f"/v1 (e.g. http://127.0.0.1:8080/v1) and that the server serves model "
                f"{self.endpoint.model!r}")
        raise BackendError(
            f"the endpoint refused the request: HTTP {reply.status} "
            f"({self._redact(_snippet(reply.body))}); check --endpoint-model and the server's log")

    def _auth_message(self, reply: _Reply) -> str:
        var = self.endpoint.api_key_env
        fix = (f"check the key in ${var}" if var else
               "it wants an API key: pass --api-key-env VAR with the key in that variable")
        return f"the endpoint at {self.base} answered HTTP {reply.status} (not authorized); {fix}"

    def _unreachable(self, reason: str, tries: int) -> str:
        return (f"the endpoint at {self.base} failed after {tries} attempt(s): {reason}; check "
                f"that the server is running and the URL is right (`sdft synth --endpoint-url "
                f"URL`), or synthesize locally with `--backend template` or `--backend llama-cpp`")

    def _redact(self, text: str) -> str:
        var = self.endpoint.api_key_env
        key = os.environ.get(var) if var else None
        return redact(text, key)


_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',;)]+")


def redact(text: str, key: str | None) -> str:
    """`text` with `key` (and any part of it at the end, as a cut-off snippet leaves it) and every
    `Bearer <token>` replaced by ***."""
    if key:
        text = text.replace(key, "***")
        for cut in range(len(key) - 1, 7, -1):  # a snippet cut off inside the key
            if text.endswith(key[:cut] + "..."):
                text = text[: -len(key[:cut] + "...")] + "***..."
                break
    return _BEARER.sub(r"\1***", text)


def make_openai(config: BackendConfig) -> OpenAIBackend:
    assert config.endpoint is not None  # BackendConfig guarantees it for "openai"
    return OpenAIBackend(config.endpoint)


def _remaining(deadline: float, timeout: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(f"deadline of {timeout} s passed")
    return left


def _read_all(response, sock, deadline: float, timeout: float) -> bytes:
    """The body, read in pieces so that the whole read (not each piece) has a deadline."""
    chunks = []
    while True:
        sock.settimeout(_remaining(deadline, timeout))
        chunk = response.read1(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _content(data: dict) -> str:
    try:
        message = data["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        shown = _snippet(json.dumps(data).encode())
        raise _Retryable(f"reply has no choices[0].message ({shown!r})") from None
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # some servers return content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if content is not None and not isinstance(content, str):
        raise _Retryable(f"reply content is {type(content).__name__}, not text")
    return content or ""


def _retry_after(headers: dict) -> float:
    value = {k.lower(): v for k, v in headers.items()}.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return 0.0


def _snippet(body: bytes, limit: int = 160) -> str:
    text = body.decode("utf-8", "replace").strip()
    return text[:limit] + ("..." if len(text) > limit else "")


def _with_image(messages: list[dict], image: Path) -> list[dict]:
    uri = "data:image/png;base64," + base64.b64encode(Path(image).read_bytes()).decode("ascii")
    last = messages[-1]
    content = [{"type": "text", "text": last["content"]},
               {"type": "image_url", "image_url": {"url": uri}}]
    return [*messages[:-1], {"role": last["role"], "content": content}]
