"""Faults a user can cause: pasted secrets, destructive overwrites, races, markup in names, one
JSON document per command, killed runs. Each test fails on the behaviour it guards against."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from sdft_local.cli import cli
from sdft_local.store import Store

from .conftest import photo


def _run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_a_key_pasted_as_the_variable_name_is_refused_and_not_saved(store):
    pasted = "hf_AbCdEfGhIjKlMnOpQrStUvWx"
    result = _run("synth", "--project", "proj", "--endpoint-url", "http://127.0.0.1:9/v1",
                  "--endpoint-model", "m", "--api-key-env", pasted)
    assert result.exit_code == 1
    assert "looks like a key" in result.output and pasted not in result.output
    assert pasted not in json.dumps(Store.open("proj").project.settings)
    assert "synth" not in Store.open("proj").project.settings


@pytest.mark.parametrize("where", ["home", "above", "photos", "project", "foreign"])
def test_export_overwrite_never_deletes_what_is_not_an_export(store, home, tmp_path, where):
    from sdft_local.errors import ExistsError
    from sdft_local.export.staging import check_target

    (store.root / "photos").mkdir(exist_ok=True)
    (store.root / "photos" / "keep.png").write_bytes(b"x")
    foreign = tmp_path / "work"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("years of work")
    target = {"home": home, "above": home.parent, "photos": store.root / "photos", "project": store.root,
              "foreign": foreign}[where]
    with pytest.raises(ExistsError):
        check_target(target, overwrite=True)
    assert (store.root / "photos" / "keep.png").is_file() and (foreign / "thesis.tex").is_file()


def test_export_overwrite_replaces_an_earlier_export_and_the_projects_exports(store, tmp_path):
    from sdft_local.export.staging import check_target

    earlier = tmp_path / "out"
    earlier.mkdir()
    (earlier / "manifest.json").write_text("{}")
    assert check_target(earlier, overwrite=True) == earlier.resolve()
    assert check_target(store.root / "exports" / "latest", overwrite=True)


ADD_SAME = textwrap.dedent("""
    import json, sys
    from sdft_local.store import Store
    from sdft_local.ingest import ingest_photos
    store = Store.open("proj")
    print(json.dumps([r.status for r in ingest_photos(store, store.entity("Biscuit"), sys.argv[1:])]))
""")


def test_the_same_photo_added_by_six_processes_is_stored_once_without_errors(store, home, tmp_path):
    store.add_entity("Biscuit", "dog")
    same = str(photo(tmp_path / "same.png", 7))
    others = [str(photo(tmp_path / f"o{i}.png", 100 + i)) for i in range(6)]
    env = {**os.environ, "SDFT_HOME": str(home), "PYTHONPATH": os.getcwd()}
    procs = [subprocess.Popen([sys.executable, "-c", ADD_SAME, same, others[i]], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(6)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [e for _, e in outs]
    statuses = [json.loads(o) for o, _ in outs]
    firsts = sorted(s[0] for s in statuses)
    assert firsts == ["added"] + ["duplicate"] * 5
    assert all(s[1] == "added" for s in statuses)  # the rest of each batch went on
    assert len(Store.open("proj").photos()) == 7


def test_user_text_is_printed_as_is_never_as_markup(store, tmp_path):
    store.add_entity("Rex", "dog", ["wears a [red] collar"])
    folder = tmp_path / "in"
    folder.mkdir()
    photo(folder / "[dog] rex.jpg", 1, fmt="JPEG")
    (folder / "odd[").mkdir()
    (folder / "odd[" / "x].jpg").write_bytes(b"not an image")  # its path reads "odd[/x].jpg": a closing tag
    result = _run("photos", "add", "Rex", str(folder / "[dog] rex.jpg"), str(folder / "odd[/x].jpg"),
                  "--project", "proj")
    assert result.exit_code == 1
    output = " ".join(result.output.split())  # the console wraps long paths at spaces
    assert "[dog] rex.jpg: stored" in output and "odd[/x].jpg" in output
    shown = _run("entity", "show", "Rex", "--project", "proj")
    assert "wears a [red] collar" in shown.output
    missing = _run("entity", "show", "[bold]Max[/bold]", "--project", "proj")  # an error naming user text
    assert missing.exit_code == 1 and "[bold]Max[/bold]" in missing.output


def test_photos_add_json_is_one_document_even_when_a_file_is_rejected(store, tmp_path):
    store.add_entity("Rex", "dog")
    good, bad = photo(tmp_path / "good.png", 1), tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    result = CliRunner().invoke(cli, ["photos", "add", "Rex", str(good), str(bad), "--project", "proj",
                                      "--json"])
    assert result.exit_code == 1
    document = json.loads(result.stdout)  # fails on two concatenated documents
    assert document["ok"] is False and "1 of 2 file(s) rejected" in document["error"]
    assert [r["status"] for r in document["results"]] == ["added", "rejected"]


def test_a_killed_training_run_is_listed_as_interrupted_with_the_resume_hint(store):
    from sdft_local.training.runs import create_run, list_runs

    run = create_run(store, None, {}, "torch")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    store.db["runs"].update(run.id, {"owner_pid": child.pid})  # as if that process had trained it
    [row] = list_runs(store)
    assert row.state == "running" and row.shown_state == "interrupted"
    result = CliRunner().invoke(cli, ["train", "--list", "--json", "--project", "proj"])
    [listed] = json.loads(result.stdout)["runs"]
    assert listed["state"] == "interrupted" and f"sdft train --resume {run.id}" in listed["hint"]
    live = create_run(store, None, {}, "torch")  # owned by this (living) process
    assert [r.shown_state for r in list_runs(store) if r.id == live.id] == ["running"]


def test_init_refuses_a_base_model_that_cannot_work_and_creates_nothing(home, tmp_path):
    pickles = tmp_path / "pickled"
    pickles.mkdir()
    (pickles / "config.json").write_text("{}")
    (pickles / "pytorch_model.bin").write_bytes(b"x")
    for bad, says in ((str(tmp_path / "missing"), "no such model folder"), ("not-a-model", "no such model"),
                      (str(pickles), "pickle")):
        result = CliRunner().invoke(cli, ["init", "p", "--base-model", bad])
        assert result.exit_code == 1 and says in " ".join(result.output.split()), result.output
        assert not (home / "projects" / "p").exists()
    hub = CliRunner().invoke(cli, ["init", "p", "--base-model", "someone/some-vlm", "--json"])
    assert hub.exit_code == 0 and "downloaded on first use" in json.loads(hub.stdout)["note"]


def test_init_on_an_existing_project_changes_its_base_model(home):
    assert CliRunner().invoke(cli, ["init", "p"]).exit_code == 0
    assert Store.open("p").project.base_model == "demo"
    again = CliRunner().invoke(cli, ["init", "p"])  # no --base-model: nothing to change
    assert again.exit_code == 1 and "already exists" in again.output
    changed = CliRunner().invoke(cli, ["init", "p", "--base-model", "tiny-random", "--json"])
    assert changed.exit_code == 0 and json.loads(changed.stdout)["changed"] is True
    assert Store.open("p").project.base_model == "tiny-random"
    refused = CliRunner().invoke(cli, ["init", "p", "--base-model", "nope-model"])
    assert refused.exit_code == 1 and Store.open("p").project.base_model == "tiny-random"


def test_endpoint_timeout_and_retries_are_flags_saved_with_the_endpoint(store):
    result = _run("synth", "--project", "proj", "--endpoint-url", "http://127.0.0.1:9/v1",
                  "--endpoint-model", "m", "--timeout", "5", "--retries", "1")
    assert result.exit_code == 1  # the project has no entity yet
    endpoint = Store.open("proj").project.settings["synth"]["endpoint"]
    assert (endpoint["timeout_s"], endpoint["retries"]) == (5.0, 1)


def test_a_photo_that_is_already_another_entitys_is_stored_with_a_warning(store, tmp_path):
    from sdft_local.ingest import ingest_photos

    shared = photo(tmp_path / "both.png", 3)
    list(ingest_photos(store, store.add_entity("Biscuit", "dog"), [shared]))
    [result] = list(ingest_photos(store, store.add_entity("Pixel", "cat"), [shared]))
    assert result.status == "added"
    assert any("also one of Biscuit's" in w for w in result.warnings)
    [again] = list(ingest_photos(store, store.entity("Biscuit"), [photo(tmp_path / "solo.png", 4)]))
    assert not any("also one of" in w for w in again.warnings)
