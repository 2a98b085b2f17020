"""The OpenAI-compatible backend against a scripted loopback server: retries, timeouts, errors."""

import base64
import socket
import time

import pytest

from sdft_local.dialogue.answers import EntityRequest
from sdft_local.errors import BackendError, ConfigError
from sdft_local.synth.backends import GenerationOptions
from sdft_local.synth.config import BackendConfig, EndpointConfig
from sdft_local.synth.remote import OpenAIBackend

from .fake_openai import FakeOpenAI

REQUEST = EntityRequest("Biscuit", "dog", ("4 years old",), "How old is Biscuit?", "4 years old",
                        "A dog on grass.")
OPTIONS = GenerationOptions(max_tokens=50, temperature=0.3, seed=11)


def backend(server, sleeps=None, **changes):
    endpoint = EndpointConfig(**{"base_url": server.base_url, "model": "fake-model",
                                 "timeout_s": 0.5, "connect_timeout_s": 1.0, "retries": 2,
                                 "backoff_s": 0.01, "max_backoff_s": 0.05, **changes})
    sleep = (lambda s: sleeps.append(s)) if sleeps is not None else (lambda s: None)
    return OpenAIBackend(endpoint, sleep=sleep)


def test_text_only_request_carries_the_prompt_but_no_photo(tmp_path):
    image = tmp_path / "p.png"
    image.write_bytes(b"\x89PNG fake")
    with FakeOpenAI() as server:
        b = backend(server)
        assert b.compose(REQUEST, image, OPTIONS) == "This is Biscuit, 4 years old."
        body = server.chat_requests()[0]["body"]
    assert body["model"] == "fake-model" and body["max_tokens"] == 50 and body["seed"] == 11
    assert body["temperature"] == 0.3 and body["stream"] is False
    last = body["messages"][-1]
    assert isinstance(last["content"], str) and "Biscuit" in last["content"]
    assert "A dog on grass." in last["content"]
    assert not b.capabilities.sees_images and b.capabilities.remote


def test_photos_are_sent_only_when_allowed(tmp_path):
    image = tmp_path / "p.png"
    image.write_bytes(b"\x89PNG fake")
    with FakeOpenAI() as server:
        backend(server, send_photos=True).compose(REQUEST, image, OPTIONS)
        last = server.chat_requests()[0]["body"]["messages"][-1]
    parts = {p["type"]: p for p in last["content"]}
    url = parts["image_url"]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == b"\x89PNG fake"


@pytest.mark.parametrize("failure", ["500", "503", "malformed", "no_choices", "slow", "hang"])
def test_transient_failures_are_retried_with_backoff(failure):
    sleeps = []
    with FakeOpenAI(script=[failure, "ok"], slow_s=0.8) as server:
        b = backend(server, sleeps)
        assert b.compose(REQUEST, None, OPTIONS) == "This is Biscuit, 4 years old."
        assert len(server.chat_requests()) == 2
    assert sleeps == [0.01]


@pytest.mark.parametrize("failure,reason", [
    ("500", "HTTP 500"), ("malformed", "malformed JSON"), ("slow", "no complete reply within 0.5 s"),
    ("hang", "no complete reply within 0.5 s"), ("no_choices", "no choices[0].message"),
])
def test_persistent_failures_give_a_clear_error_after_all_retries(failure, reason):
    sleeps = []
    with FakeOpenAI(script=[failure], slow_s=0.8) as server:
        b = backend(server, sleeps)
        start = time.monotonic()
        with pytest.raises(BackendError) as err:
            b.compose(REQUEST, None, OPTIONS)
        elapsed = time.monotonic() - start
        assert len(server.chat_requests()) == 3
    message = str(err.value)
    assert reason in message and "after 3 attempt(s)" in message and server.base_url in message
    assert "check that the server is running" in message
    assert sleeps == [0.01, 0.02]  # exponential backoff
    assert elapsed < 3 * 0.5 + 1.0  # the deadline covers the whole reply, not each byte


def test_a_slow_stream_within_the_deadline_succeeds():
    with FakeOpenAI(script=["slow"], slow_s=0.2) as server:
        assert backend(server).compose(REQUEST, None, OPTIONS).startswith("This is Biscuit")


def test_retry_after_is_honoured_within_the_cap():
    sleeps = []
    with FakeOpenAI(script=["503", "ok"]) as server:
        b = backend(server, sleeps, backoff_s=0.01, max_backoff_s=0.2)
        original = b._exchange

        def with_header(*args, **kw):
            reply = original(*args, **kw)
            if reply.status == 503:
                return type(reply)(reply.status, {**reply.headers, "Retry-After": "7"}, reply.body)
            return reply

        b._exchange = with_header
        b.compose(REQUEST, None, OPTIONS)
    assert sleeps == [0.2]


def test_api_key_comes_from_the_named_variable_and_is_redacted(monkeypatch):
    monkeypatch.setenv("FAKE_KEY", "sk-secret-123")
    with FakeOpenAI(script=["401"]) as server:
        b = backend(server, api_key_env="FAKE_KEY")
        with pytest.raises(BackendError) as err:
            b.compose(REQUEST, None, OPTIONS)
        assert server.chat_requests()[0]["headers"]["Authorization"] == "Bearer sk-secret-123"
        assert len(server.chat_requests()) == 1  # 401 is not retried
    assert "$FAKE_KEY" in str(err.value) and "sk-secret" not in str(err.value)


def test_missing_key_variable_says_what_to_export(monkeypatch):
    monkeypatch.delenv("NOPE_KEY", raising=False)
    with FakeOpenAI() as server:
        with pytest.raises(BackendError, match="export NOPE_KEY="):
            backend(server, api_key_env="NOPE_KEY").check()
        assert server.requests == []


def test_404_names_the_likely_fix():
    with FakeOpenAI(script=["404"]) as server:
        with pytest.raises(BackendError, match="ends with /v1"):
            backend(server).compose(REQUEST, None, OPTIONS)


def test_check_fails_fast_on_an_unreachable_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = EndpointConfig(f"http://127.0.0.1:{port}/v1", "m", connect_timeout_s=1.0)
    start = time.monotonic()
    with pytest.raises(BackendError, match="failed after 1 attempt.*server is running"):
        OpenAIBackend(endpoint).check()
    assert time.monotonic() - start < 1.5


@pytest.mark.parametrize("bad", [
    {"base_url": "127.0.0.1:8080"}, {"model": " "}, {"api_key_env": "sk-abc-123"},
    {"timeout_s": 0}, {"retries": 11},
])
def test_endpoint_config_is_validated(bad):
    with pytest.raises(ConfigError):
        EndpointConfig(**{"base_url": "http://h/v1", "model": "m", **bad})


def test_openai_backend_needs_an_endpoint():
    with pytest.raises(ConfigError, match="--endpoint-url"):
        BackendConfig(name="openai")


def test_a_reply_that_echoes_the_key_never_shows_it(monkeypatch):
    key = "sk-test-0123456789abcdefSECRET"
    monkeypatch.setenv("FAKE_KEY", key)
    lines = []
    with FakeOpenAI(script=["leaky"]) as server:
        b = backend(server, api_key_env="FAKE_KEY")
        b.on_retry = lines.append
        with pytest.raises(BackendError) as err:
            b.compose(REQUEST, None, OPTIONS)
        assert server.chat_requests()[0]["headers"]["Authorization"] == f"Bearer {key}"
    shown = err.value.message + "\n".join(lines)
    assert "malformed JSON" in err.value.message and "Bearer ***" in err.value.message
    assert "SECRET" not in shown and "sk-test" not in shown
    assert len(lines) == 2 and "attempt 1 of 3 failed" in lines[0] and "retrying in" in lines[0]


def test_redact_blanks_the_key_even_cut_off_and_any_bearer_token():
    from sdft_local.synth.remote import redact

    key = "abcdefghijklmnopqrstuvwxyz0123"
    assert redact(f"x {key} y", key) == "x *** y"
    assert redact(f"reply ({key[:20]}...", key) == "reply (***..."
    assert redact("Authorization: Bearer hf_live_token_9", None) == "Authorization: Bearer ***"
    assert redact("nothing here", key) == "nothing here"


@pytest.mark.parametrize("pasted", ["hf_AbCdEfGhIjKlMnOpQrStUv", "sk-proj-abc123", "ghp_abcdef0123456789",
                                    "aB3dE5gH7jK9mN1pQ3sT5vX7"])
def test_a_pasted_key_is_refused_as_a_variable_name_and_not_echoed(pasted):
    with pytest.raises(ConfigError) as err:
        EndpointConfig("http://127.0.0.1:1/v1", "m", api_key_env=pasted)
    assert "looks like a key" in err.value.message and pasted not in err.value.message
    for name in ("OPENAI_API_KEY", "HF_TOKEN", "my_key"):
        assert EndpointConfig("http://127.0.0.1:1/v1", "m", api_key_env=name).api_key_env == name
