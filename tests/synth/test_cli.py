"""`sdft synth` and `sdft dialogues` through click: exit codes, messages, settings, review, export."""

import json
import socket

import pytest
from click.testing import CliRunner

from sdft_local.cli import cli

from .conftest import write_photo
from .fake_openai import FakeOpenAI


def invoke(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


@pytest.fixture()
def cli_project(tiny_model_dir, sdft_home, monkeypatch):
    monkeypatch.delenv("SDFT_PROJECT", raising=False)
    assert invoke("init", "p", "--base-model", tiny_model_dir).exit_code == 0
    assert invoke("entity", "add", "Biscuit", "-k", "dog", "-f", "4 years old").exit_code == 0
    return sdft_home


def add_photos(tmp_path, n=4):
    paths = [write_photo(tmp_path / f"{i}.png", i) for i in range(n)]
    assert invoke("photos", "add", "Biscuit", *paths).exit_code == 0


def err(result) -> str:
    """stderr with rich's line wrapping undone."""
    return " ".join(result.stderr.split())


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_project_no_entity_no_photos_exit_1_with_the_fix(tiny_model_dir, sdft_home, monkeypatch):
    monkeypatch.delenv("SDFT_PROJECT", raising=False)
    result = invoke("synth")
    assert result.exit_code == 1 and "sdft init" in err(result)
    invoke("init", "p", "--base-model", tiny_model_dir)
    result = invoke("synth", "--json")
    assert result.exit_code == 1 and "sdft entity add" in err(result)
    assert json.loads(result.stdout)["ok"] is False
    invoke("entity", "add", "Biscuit", "-k", "dog")
    result = invoke("synth")
    assert result.exit_code == 1 and "sdft photos add Biscuit" in err(result)
    result = invoke("synth", "Rex")
    assert result.exit_code == 1 and "sdft entity add Rex" in err(result)


def test_unreachable_endpoint_exits_1_before_loading_models(cli_project, tmp_path):
    add_photos(tmp_path)
    url = f"http://127.0.0.1:{closed_port()}/v1"
    result = invoke("synth", "--backend", "openai", "--endpoint-url", url, "--endpoint-model", "m")
    assert result.exit_code == 1
    assert url in err(result) and "check that the server is running" in err(result)
    assert "Loading the base model" not in err(result)


def test_unknown_backend_lists_valid_ones(cli_project, tmp_path):
    add_photos(tmp_path)
    result = invoke("synth", "--backend", "gpt4")
    assert result.exit_code == 1 and "llama-cpp" in err(result) and "openai" in err(result)


def test_synth_review_edit_reject_and_export(cli_project, tmp_path, student):
    add_photos(tmp_path)
    first = invoke("synth", "--json", "--variants", "1")
    assert first.exit_code == 0, first.stderr
    doc = json.loads(first.stdout)
    assert doc["dialogues"] == 3 and doc["photos"] == 3 and doc["backend"] == "template"
    assert "templates" in doc["warnings"][0] and "Turn 3 by template" in err(first)
    again = json.loads(invoke("synth", "--json").stdout)  # saved --variants 1 is reused
    assert again["dialogues"] == 0 and again["skipped"] == 3

    listed = json.loads(invoke("dialogues", "list", "--json").stdout)["dialogues"]
    assert len(listed) == 3 and {d["status"] for d in listed} == {"ok"}
    one = listed[0]["id"]
    shown = json.loads(invoke("dialogues", "show", one, "--json").stdout)
    assert [t["weight"] for t in shown["turns"]] == [0.2, 0.3, 0.5]

    edited = invoke("dialogues", "edit", one, "--turn", "3", "--answer", "This is Biscuit, my dog.",
                    "--json")
    record = json.loads(edited.stdout)
    assert record["status"] == "edited" and record["turns"][2]["answer"] == "This is Biscuit, my dog."
    assert record["turns"][2]["source"] == "edited"
    assert record["provenance"]["edits"][0]["previous"]["answer"] == shown["turns"][2]["answer"]
    assert invoke("dialogues", "edit", listed[1]["id"], "--reject").exit_code == 0
    assert invoke("dialogues", "edit", one, "--reject", "--restore").exit_code == 1

    out = tmp_path / "set.jsonl"
    exported = json.loads(invoke("dialogues", "list", "--jsonl", out, "--json").stdout)
    assert exported["export"]["dialogues"] == 2
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    first_line = next(l for l in lines if l["status"] == "edited")
    msgs = first_line["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant"] * 3
    assert msgs[0]["content"][0] == {"type": "image"}
    assert [m["weight"] for m in msgs if m["role"] == "assistant"] == [0.2, 0.3, 0.5]
    assert msgs[5]["content"][0]["text"] == "This is Biscuit, my dog."
    assert len(first_line["images"]) == 1 and first_line["images"][0].startswith("/")
    assert open(first_line["images"][0], "rb").read(4) == b"\x89PNG"

    rejected = json.loads(invoke("dialogues", "list", "--status", "rejected", "--json").stdout)
    assert len(rejected["dialogues"]) == 1
    regenerated = invoke("dialogues", "edit", rejected["dialogues"][0]["id"], "--regenerate", "--json")
    assert regenerated.exit_code == 0, regenerated.stderr
    assert json.loads(regenerated.stdout)["status"] == "ok"


def test_endpoint_is_saved_per_project_without_the_key(cli_project, tmp_path, student):
    add_photos(tmp_path)
    answer = "This is Biscuit. Biscuit is 4 years old."
    with FakeOpenAI(answer=answer) as server:
        result = invoke("synth", "--variants", "1", "--backend", "openai",
                        "--endpoint-url", server.base_url, "--endpoint-model", "fake",
                        "--api-key-env", "SYNTH_TEST_KEY", "--send-photos", "--json",
                        env={"SYNTH_TEST_KEY": "sk-very-secret"})
        assert result.exit_code == 0, result.stderr
        assert "photos are sent to the endpoint" in err(result)
        bodies = [r["body"] for r in server.chat_requests()]
        assert all(r["headers"]["Authorization"] == "Bearer sk-very-secret"
                   for r in server.chat_requests())
    assert len(bodies) == 3
    assert all(isinstance(b["messages"][-1]["content"], list) for b in bodies)  # photo attached
    db = (cli_project / "projects" / "p" / "project.db").read_bytes()
    assert b"sk-very-secret" not in db and b"SYNTH_TEST_KEY" in db
    assert "sk-very-secret" not in result.stdout + result.stderr
    from sdft_local.store import Store

    with Store.open("p") as store:
        endpoint = store.project.settings["synth"]["endpoint"]
    assert endpoint["api_key_env"] == "SYNTH_TEST_KEY" and endpoint["send_photos"] is True
    listed = json.loads(invoke("dialogues", "list", "--json").stdout)["dialogues"]
    assert {d["sources"][2] for d in listed} == {f"openai:fake@{server.base_url.split('/')[2]}"}
