"""run_check end to end on the tiny model: a no-op adapter passes, an over-trained one fails with
its reasons named, the verdict lands in the checks table, and the base side is cached."""

from __future__ import annotations

import numpy as np
import pytest

from sdft_local.check import CheckProgressed, CheckReport, CheckStarted, latest_check

from .conftest import SMALL, run_to_end


def test_noop_adapter_passes_with_zero_kl_and_full_agreement(torch_reports):
    report, _, _ = torch_reports["plain", "noop"]
    r = report.retention
    assert report.verdict == "pass" and report.gate.reasons == ()
    assert r.kl_per_token < 1e-6 and r.kl_max_item < 1e-6
    assert r.token_agreement == 1.0 and r.answer_agreement == 1.0
    assert r.items == SMALL.image_probes + SMALL.text_probes and r.answer_tokens > r.items
    assert [f.tuned_accuracy for f in r.families] == [f.base_accuracy for f in r.families]
    assert all(f.lost == f.gained == 0 for f in r.families)
    assert report.knowledge.entities == () and report.knowledge.notes


def test_noop_adapter_with_entities_fails_for_lack_of_knowledge_alone(torch_reports):
    report, _, _ = torch_reports["knowing", "noop"]
    # it forgets nothing, but it does not know its entities: exported, it would pass for one that does
    assert not report.gate.passed and report.verdict == "fail"
    assert {r.metric.split(".")[0] for r in report.gate.reasons} == {"knowledge"}
    assert all("train longer" in r.message for r in report.gate.reasons)
    b = report.retention.bleed
    assert b.photos == SMALL.bleed_photos
    assert (b.yes_rate_tuned, b.name_rate_tuned) == (b.yes_rate_base, b.name_rate_base)
    k = report.knowledge
    assert [e.name for e in k.entities] == ["Biscuit", "Max"]
    # 5 photos each -> 2 held out; negatives: the other entity's 2 + 2 easy ones; 3 phrasings each.
    assert (k.recognition.positives, k.recognition.negatives) == (2 * 2 * 3, 2 * 4 * 3)
    # Biscuit: 2 facts x (2 text + 2 photo phrasings); Max: 1 fact x 4.
    assert [e.fact_questions for e in k.entities] == [8, 4]
    # Open answers: each fact by name and about a held-out photo; a no-op adapter is the base model.
    o = k.open_facts
    assert o.questions == 2 * 2 + 1 * 2 and [e.open_facts.questions for e in k.entities] == [4, 2]
    assert (o.tuned, o.tuned_card) == (o.base, o.card)


def test_overtrained_adapter_fails_with_the_reasons_named(torch_reports):
    report, _, _ = torch_reports["knowing", "over"]
    fails = {r.metric for r in report.gate.reasons if r.level == "fail"}
    assert report.verdict == "fail" and not report.gate.passed
    assert {"retention.kl", "retention.agreement", "bleed.yes", "bleed.name"} <= fails
    r = report.retention
    assert r.kl_per_token > 1.0 and r.token_agreement < 0.5
    assert r.bleed.yes_rate_tuned - r.bleed.yes_rate_base > 0.5
    assert "Biscuit" in r.bleed.examples[0]
    kl = next(x for x in report.gate.reasons if x.metric == "retention.kl")
    assert kl.value == r.kl_per_token and f"{r.kl_per_token:.3f}" in kl.message
    # It did learn the one thing it was drilled on: the name comes back on held-out photos.
    biscuit = report.knowledge.entities[0]
    assert biscuit.name_recall == 1.0 and all("Biscuit" in a for a in biscuit.recall_answers)


def test_verdict_is_stored_for_export(projects, torch_reports):
    from sdft_local.export.run import latest_verdict

    store = projects["knowing"]
    report, check_id, _ = torch_reports["knowing", "over"]
    stored = latest_check(store, report.run_id)
    assert (stored.id, stored.verdict) == (check_id, "fail")
    assert CheckReport.from_dict(stored.report) == report
    assert latest_verdict(store, report.run_id) == "fail"
    plain = torch_reports["plain", "noop"][0]
    assert latest_verdict(projects["plain"], plain.run_id) == "pass"


def test_progress_and_base_cache(projects, torch_reports, check_home):
    _, _, first = torch_reports["knowing", "noop"]  # the first check: it filled the cache
    assert isinstance(first[0], CheckStarted) and first[0].probes == SMALL.image_probes + SMALL.text_probes
    stages = list(dict.fromkeys(e.stage for e in first if isinstance(e, CheckProgressed)))
    assert stages[:11] == ["loading base model", "base answers", "base log-probs", "base options",
                           "base bleed yes/no", "base bleed open answers",
                           "open facts: Biscuit (no card)", "open facts: Biscuit (facts card)",
                           "open facts: Max (no card)", "open facts: Max (facts card)", "loading tuned model"]
    assert all(e.done <= e.total for e in first if isinstance(e, CheckProgressed))
    # Same base model and probe version: nothing of the base is recomputed.
    report, check_id, again = run_to_end(projects["plain"], "noop", SMALL.merged(backend="torch"),
                                         record=False)
    assert check_id is None
    assert not any(isinstance(e, CheckProgressed) and "base" in e.stage for e in again)
    knowing, _, twice = run_to_end(projects["knowing"], "noop", SMALL.merged(backend="torch"), record=False)
    assert not any(isinstance(e, CheckProgressed) and "base" in e.stage for e in twice)  # open facts cached
    assert knowing.knowledge.open_facts == torch_reports["knowing", "noop"][0].knowledge.open_facts
    assert report.retention == torch_reports["plain", "noop"][0].retention
    assert list(check_home.glob("cache/check/*-torch/suite-*.npz"))
    # A different probe suite is a different cache entry.
    _, _, other = run_to_end(projects["plain"], "noop", SMALL.merged(backend="torch", probe_seed=1),
                             record=False)
    assert any(isinstance(e, CheckProgressed) and e.stage == "base answers" for e in other)


def test_retention_counts_tuned_accuracy_per_family(torch_reports):
    r = torch_reports["knowing", "over"][0].retention
    items = sum(f.items for f in r.families)
    assert items == r.items
    pooled = sum(f.tuned_accuracy * f.items for f in r.families) / items
    assert np.isclose(pooled, r.tuned_accuracy)
    for f in r.families:  # the items that changed answer add up to the change of accuracy
        assert f.gained - f.lost == round((f.tuned_accuracy - f.base_accuracy) * f.items)
    assert any(f.lost + f.gained for f in r.families)


def test_mlx_format_run_is_converted_for_torch(projects, torch_reports, tmp_path):
    from sdft_local.export.adapters import read_adapter, write_mlx

    from .conftest import add_run

    store = projects["knowing"]
    native = store.root / f"runs/{torch_reports['knowing', 'over'][0].run_id}/adapter"
    write_mlx(read_adapter(native), tmp_path / "mlx")
    run_id = add_run(store, tmp_path / "mlx", "over-mlx")
    report, _, _ = run_to_end(store, run_id, SMALL.merged(backend="torch"), record=False)
    peft = torch_reports["knowing", "over"][0].retention
    assert report.retention.kl_per_token == pytest.approx(peft.kl_per_token, rel=1e-4)
    assert [f.tuned_accuracy for f in report.retention.families] == [f.tuned_accuracy for f in peft.families]
    assert report.verdict == "fail"


def test_entity_without_heldout_photos_is_a_note(tiny_model_dir, noop_adapter, tmp_path):
    from .conftest import add_run, make_project

    store = make_project("few-photos", tiny_model_dir, tmp_path, photos=3)  # 3 photos: none held out
    report, _, _ = run_to_end(store, add_run(store, noop_adapter, "noop"), SMALL.merged(backend="torch"),
                              record=False)
    k = report.knowledge
    assert k.recognition is None and k.name_recall is None
    # Facts are still asked, by name only (no photo to ask about): 2 phrasings per fact.
    assert [(e.recognition, e.fact_questions) for e in k.entities] == [(None, 4), (None, 2)]
    assert any("Biscuit: no held-out photos" in n for n in report.gate.notes)
    assert report.verdict in ("pass", "warn")
    assert not any(r.metric in ("knowledge.recognition", "knowledge.recall") for r in report.gate.reasons)
    store.close()
