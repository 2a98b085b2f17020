"""Review at the library level: edits keep history, regenerating one, export, errors."""

import json

import pytest

from sdft_local.errors import ConfigError, ExportError, NotFoundError
from sdft_local.synth import synthesize
from sdft_local.synth.review import (
    chat_record, edit_turn, export_jsonl, get_dialogue, list_dialogues, regenerate_dialogue,
    set_status,
)
from sdft_local.synth.template import TemplateBackend

from .conftest import FAST


@pytest.fixture()
def synthesized(project, student):
    list(synthesize(project, FAST, backend=TemplateBackend(), student=student,
                    entities=["Max"]))
    return project


def test_edit_records_the_previous_text_and_marks_the_dialogue(synthesized):
    record = list_dialogues(synthesized)[0]
    edited = edit_turn(synthesized, record.id, 2, answer="No, there is no kite here.")
    again = edit_turn(synthesized, record.id, 2, question="Is there a kite?")
    assert edited.status == "edited" and again.turns[1].question == "Is there a kite?"
    assert again.turns[1].answer == "No, there is no kite here." and again.turns[1].weight == 0.3
    assert again.turns[1].meta["edited_from"] == "edited"
    edits = again.provenance["edits"]
    assert [e["previous"]["answer"] for e in edits] == [record.turns[1].answer,
                                                        "No, there is no kite here."]
    assert again.turns[0] == record.turns[0] and again.turns[2] == record.turns[2]
    with pytest.raises(ConfigError, match="turn 4 does not exist"):
        edit_turn(synthesized, record.id, 4, answer="x")
    with pytest.raises(ConfigError, match="empty"):
        edit_turn(synthesized, record.id, 1, answer="   ")
    with pytest.raises(NotFoundError, match="sdft dialogues list"):
        get_dialogue(synthesized, 9999)


def test_reject_restore_and_status_validation(synthesized):
    record = list_dialogues(synthesized)[0]
    assert set_status(synthesized, record.id, "rejected").status == "rejected"
    assert [r.id for r in list_dialogues(synthesized, status="rejected")] == [record.id]
    assert set_status(synthesized, record.id, "ok").status == "ok"
    with pytest.raises(ConfigError, match="unknown status 'deleted'"):
        set_status(synthesized, record.id, "deleted")


def test_regenerating_one_dialogue_gives_fresh_choices_and_leaves_the_rest(synthesized, student):
    before = list_dialogues(synthesized)
    target = before[1]
    fresh = regenerate_dialogue(synthesized, target.id, FAST, backend=TemplateBackend(),
                                student=student)
    assert (fresh.photo_id, fresh.variant, fresh.status) == (target.photo_id, target.variant, "ok")
    assert fresh.provenance["generation"] == 1 and fresh.turns != target.turns
    after = {r.id: r for r in list_dialogues(synthesized)}
    assert len(after) == len(before)
    assert all(after[r.id].turns == r.turns for r in before if r.id != target.id)


def test_export_is_complete_chat_jsonl(synthesized, tmp_path):
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "max.jsonl"
    summary = export_jsonl(synthesized, out, system="You are helpful.")
    lines = [json.loads(l) for l in out.read_text().splitlines()]
    assert summary.dialogues == len(lines) == 4 and summary.photos == 2
    assert list(out.parent.iterdir()) == [out]  # no temp file left behind
    line = lines[0]
    assert line["messages"][0] == {"role": "system", "content": [{"type": "text", "text": "You are helpful."}]}
    kinds = [m.get("turn_kind") for m in line["messages"] if m["role"] == "assistant"]
    assert kinds == ["caption", "negative", "entity"]
    record = list_dialogues(synthesized)[0]
    assert chat_record(record)["messages"][1]["content"][0]["text"] == record.turns[0].answer
    with pytest.raises(ExportError, match="run `sdft synth` first"):
        export_jsonl(synthesized, tmp_path / "none.jsonl", entity="Biscuit")


def test_regenerating_an_edited_dialogue_by_id_replaces_it(synthesized, student):
    record = list_dialogues(synthesized)[0]
    edit_turn(synthesized, record.id, 3, answer="This is Max, who likes boxes.")
    fresh = regenerate_dialogue(synthesized, record.id, FAST, backend=TemplateBackend(),
                                student=student)
    assert fresh.status == "ok" and fresh.turns[2].source == "template"
    assert "edits" not in fresh.provenance
