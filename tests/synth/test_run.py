"""`synthesize` on the tiny model: complete, weighted, attributed dialogues; idempotent reruns."""

import json
from dataclasses import replace

import pytest

from sdft_local.dialogue.config import DialogueConfig
from sdft_local.dialogue.types import Dialogue
from sdft_local.errors import BackendError, NotFoundError
from sdft_local.synth import load_dialogues, synthesize
from sdft_local.synth.config import EndpointConfig
from sdft_local.synth.remote import OpenAIBackend
from sdft_local.synth.review import list_dialogues, set_status
from sdft_local.synth.run import SynthFinished, SynthProgressed, SynthStarted
from sdft_local.synth.template import TemplateBackend

from .conftest import FAST
from .fake_openai import FakeOpenAI


def rows(store):
    return list(store.db.query("SELECT * FROM dialogues ORDER BY photo_id, variant"))


def run(store, student, backend=None, config=FAST, **kw):
    return list(synthesize(store, config, backend=backend or TemplateBackend(), student=student, **kw))


def test_every_training_photo_gets_weighted_attributed_dialogues(project, student):
    events = run(project, student)
    assert isinstance(events[0], SynthStarted) and isinstance(events[-1], SynthFinished)
    progress = [e for e in events if isinstance(e, SynthProgressed)]
    assert [e.done for e in progress] == [1, 2, 3, 4, 5] and all(e.total == 5 for e in progress)
    train = {p.id for p in project.photos(split="train")}
    heldout = {p.id for p in project.photos(split="heldout")}
    assert len(train) == 5 and len(heldout) == 1
    stored = rows(project)
    assert {(r["photo_id"], r["variant"]) for r in stored} == {(p, v) for p in train for v in (0, 1)}
    for row in stored:
        turns = Dialogue.turns_from_json(row["turns"])
        assert [t.kind for t in turns] == ["caption", "negative", "entity"]
        assert [t.weight for t in turns] == [0.2, 0.3, 0.5]
        assert turns[0].source == student.name and turns[2].source == "template"
        assert turns[1].source in (student.name, "template")
        assert turns[1].meta["check"] in ("text", "template")
        prov = json.loads(row["provenance"])
        assert prov["student"] == student.name and prov["synth_backend"] == "template"
        assert prov["turns"] == [t.source for t in turns] and row["status"] == "ok"
        entity = project.entity_by_id(row["entity_id"]).name
        assert entity in turns[2].answer
    assert events[-1].dialogues == 10 and events[-1].skipped == 0


def test_turn2_records_how_the_negative_was_verified(project, student):
    run(project, student, entities=["Biscuit"])
    for row in rows(project):
        negative = Dialogue.turns_from_json(row["turns"])[1]
        meta = negative.meta
        if meta["check"] == "template":
            assert negative.source == "template" and meta["fallback"] == "template"
            assert negative.answer.startswith("No")
        else:
            assert negative.source == student.name and 0.0 <= meta["p_yes"] <= 1.0
            assert meta["check"] == "text" and negative.answer.lower().startswith("no")
        for tried in meta.get("tried", []):
            assert set(tried) == {"target", "answer", "p_yes"}
        assert meta["attempts"] == len(meta.get("tried", [])) + (meta["check"] != "template")


def test_rerun_is_idempotent_and_regenerate_rewrites(project, student):
    run(project, student)
    before = rows(project)
    again = run(project, student)
    assert again[0].photos == 0 and again[-1].skipped == 5 and again[-1].dialogues == 0
    assert rows(project) == before
    fresh = run(project, student, regenerate=True)
    assert fresh[-1].dialogues == 10
    after = rows(project)
    assert len(after) == 10
    assert all(json.loads(r["provenance"])["generation"] == 1 for r in after)
    changed = [a["turns"] != b["turns"] for a, b in zip(after, before)]
    assert any(changed)  # fresh seeds: other questions


def test_changed_facts_make_dialogues_stale_but_edited_ones_stay(project, student):
    run(project, student, entities=["Biscuit"])
    first = list_dialogues(project, entity="Biscuit")[0]
    project.db["dialogues"].update(first.id, {"status": "edited"})
    project.update_entity("Biscuit", facts=["5 years old"])
    events = run(project, student, entities=["Biscuit"])
    assert events[0].photos == 3 and events[-1].dialogues == 5
    assert list_dialogues(project, entity="Biscuit")[0].turns == first.turns


def test_fewer_variants_remove_the_surplus(project, student):
    run(project, student, entities=["Max"])
    one = replace(FAST, dialogue=DialogueConfig(variants=1))
    events = run(project, student, config=one, entities=["Max"])
    assert events[0].photos == 2 and events[-1].dialogues == 0
    assert [r["variant"] for r in rows(project)] == [0, 0]


def test_load_dialogues_gives_training_photos_only_without_rejected(project, student):
    run(project, student)
    heldout = project.photos(split="heldout")[0]
    records = list_dialogues(project)
    # A photo that moved to the held-out split keeps its rows but must not be trained on.
    project.db["photos"].update(records[0].photo_id, {"split": "heldout"})
    set_status(project, records[2].id, "rejected")
    loaded = load_dialogues(project)
    assert len(loaded) == 10 - 2 - 1
    assert all(d.image.startswith("/") and d.image.endswith(".png") for d in loaded)
    assert str(project.photo_path(heldout.sha256).resolve()) not in {d.image for d in loaded}
    assert {d.entity for d in loaded} == {"Biscuit", "Max"}
    assert load_dialogues(project, status="rejected") == []


def test_no_entities_and_no_photos_say_what_to_do(sdft_home, student):
    from sdft_local.store import Store

    store = Store.create("empty", "tiny-random")
    with pytest.raises(NotFoundError, match="sdft entity add"):
        run(store, student)
    store.add_entity("Biscuit", "dog")
    with pytest.raises(NotFoundError, match="sdft photos add Biscuit"):
        run(store, student)


def test_a_failing_endpoint_leaves_no_half_written_photo(project, student):
    # The second photo's first turn-3 call fails for good: photo 1 complete, nothing else.
    script = ["This is Biscuit. Biscuit is 4 years old and loves tennis balls."] * 2 + ["500"]
    with FakeOpenAI(script=script) as server:
        endpoint = EndpointConfig(server.base_url, "fake", timeout_s=2, retries=1, backoff_s=0.01,
                                  max_backoff_s=0.01)
        events = []
        with pytest.raises(BackendError, match="HTTP 500"):
            for event in synthesize(project, FAST, backend=OpenAIBackend(endpoint),
                                    student=student, entities=["Biscuit"]):
                events.append(event)
    assert [type(e).__name__ for e in events] == ["SynthStarted", "SynthProgressed"]
    stored = rows(project)
    assert len(stored) == 2 and {r["photo_id"] for r in stored} == {events[1].photo_id}
    assert all(Dialogue.turns_from_json(r["turns"])[2].source.startswith("openai:fake@127.0.0.1")
               for r in stored)


@pytest.mark.parametrize("answer,verdict", [
    ("No, there is no kite.", (True, "text")),
    ("No.", (True, "text")),
    ("No, it isn't.", (True, "text")),
    ("Yes, a kite.", (False, "rejected")),
    ("A kite flies over the dog.", (False, "rejected")),
    ("grass dog sun", (False, "rejected")),  # unclear: never trained on, whatever P(no) says
    ("No, there is no suman in this image.", (False, "rejected")),  # denies something else
])
def test_turn2_accepts_only_a_negative_about_the_target(answer, verdict):
    from sdft_local.synth.student_turns import judge_negative

    got = judge_negative(answer, "kite")
    assert (got.accepted, got.check) == verdict


def test_stored_student_answers_hold_whole_sentences(project, student):
    from sdft_local.dialogue.answers import trim_unfinished

    run(project, student, entities=["Max"])
    for record in list_dialogues(project):
        for turn in record.turns[:2]:
            assert trim_unfinished(turn.answer) == turn.answer
