"""The gate's verdicts and reasons on hand-made reports, and the report's JSON round trip."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sdft_local.check import CheckConfig, GateConfig
from sdft_local.check.gate import judge
from sdft_local.check.metrics import drop_p_value
from sdft_local.check.report import (Bleed, CheckReport, EntityKnowledge, FamilyRetention, GateVerdict,
                                     KnowledgeReport, Recognition, RetentionReport)
from sdft_local.errors import ConfigError

GATE = GateConfig()


def family(name="colour", base=0.8, tuned=0.8, gated=True, gained=0):
    """25 items; every change of accuracy is items lost, plus `gained` items swapped both ways."""
    lost = round((base - tuned) * 25) + gained
    return FamilyRetention(name, 25, 0.25, base, tuned, tuned / base, gated, 0.01, 0.99, lost, gained)


def retention(ratio=1.0, kl=0.01, agreement=0.99, bleed=None, families=None):
    fams = families if families is not None else (family(), family("count"))
    return RetentionReport(fams, 50, 0.8, 0.8 * (ratio or 1), ratio, kl, kl * 2, agreement, 0.9, 400, bleed)


def knowledge(weighted=0.9, facts=0.8, recall=0.9, positives=None):
    pos = weighted if positives is None else positives
    rec = Recognition(pos, 2 * weighted - pos, weighted, 0.95, 6, 12)
    ent = EntityKnowledge("Biscuit", rec, facts, 8, recall, ("This is Biscuit.",))
    return KnowledgeReport((ent,), rec, facts, recall)


def metrics(verdict: GateVerdict) -> dict[str, str]:
    return {r.metric: r.level for r in verdict.reasons}


def test_healthy_run_passes():
    v = judge(knowledge(), retention(), GATE)
    assert (v.verdict, v.reasons, v.passed) == ("pass", (), True)


@pytest.mark.parametrize("ratio,level", [(0.98, None), (0.95, "warn"), (0.90, "fail")])
def test_retention_ratio_thresholds(ratio, level):
    v = judge(knowledge(), retention(ratio=ratio), GATE)
    assert metrics(v).get("retention.ratio") == level
    assert v.verdict == (level or "pass")


def test_each_forgetting_signal_is_named_with_its_number():
    bleed = Bleed(12, 0.1, 0.9, 0.0, 0.5, ("This is Biscuit.",))
    fams = (family(), family("count", 0.8, 0.4))
    v = judge(knowledge(), retention(kl=0.8, agreement=0.5, bleed=bleed, families=fams), GATE)
    assert v.verdict == "fail"
    assert metrics(v) == {"retention.family.count": "fail", "retention.kl": "fail",
                          "retention.agreement": "fail", "bleed.yes": "fail", "bleed.name": "fail"}
    kl = next(r for r in v.reasons if r.metric == "retention.kl")
    assert (kl.value, kl.threshold) == (0.8, GATE.kl_fail) and "0.800 nats" in kl.message
    assert "This is Biscuit." in next(r for r in v.reasons if r.metric == "bleed.name").message


def test_a_family_drop_chance_explains_only_warns():
    # 0.80 -> 0.60 both ways: 5 lost net. All 5 lost, none gained: p = 1/32, a real loss.
    sure = judge(knowledge(), retention(families=(family("count", 0.8, 0.6),)), GATE)
    assert metrics(sure) == {"retention.family.count": "fail"}
    # 7 lost and 2 gained: coin flips over 9 changes lose 7 or more with p = 46/512.
    noisy = judge(knowledge(), retention(families=(family("count", 0.8, 0.6, gained=2),)), GATE)
    assert metrics(noisy) == {"retention.family.count": "warn"} and noisy.passed
    reason = noisy.reasons[0]
    assert reason.threshold == GATE.family_fail and "7 of the 9 items" in reason.message
    assert "p = 0.09" in reason.message
    strict = judge(knowledge(), retention(families=(family("count", 0.8, 0.6, gained=2),)),
                   replace(GATE, family_p=0.1))
    assert metrics(strict) == {"retention.family.count": "fail"}
    unknown = replace(family("count", 0.8, 0.6), lost=None, gained=None)  # a report from before
    assert metrics(judge(knowledge(), retention(families=(unknown,)), GATE)) == {"retention.family.count": "fail"}


def test_drop_p_value_is_the_exact_one_sided_mcnemar_test():
    assert drop_p_value(0, 0) == 1.0
    assert drop_p_value(8, 0) == 1 / 256
    assert drop_p_value(5, 3) == 93 / 256
    assert drop_p_value(0, 4) == 1.0


def test_warn_band_between_thresholds():
    v = judge(knowledge(), retention(kl=0.2, agreement=0.85), GATE)
    assert metrics(v) == {"retention.kl": "warn", "retention.agreement": "warn"}
    assert v.verdict == "warn" and v.passed


def test_weak_facts_and_recall_only_warn():
    v = judge(knowledge(weighted=0.7, facts=0.0, recall=0.0), retention(), GATE)
    assert metrics(v) == {"knowledge.recognition": "warn", "knowledge.facts": "warn",
                          "knowledge.recall": "warn"}
    assert v.verdict == "warn"


def test_an_adapter_that_never_recognizes_its_entity_fails():
    # Always "no": negatives all right, positives all wrong, 0.50 weighted.
    v = judge(knowledge(weighted=0.5, positives=0.0), retention(), GATE)
    assert metrics(v) == {"knowledge.recognition": "fail", "knowledge.positives.Biscuit": "fail"}
    assert not v.passed
    assert "Biscuit is recognized on only 0% of its held-out photos" in v.reasons[1].message
    # Weighted accuracy above its limit, yet one entity found on almost none of its photos.
    lopsided = judge(knowledge(weighted=0.62, positives=0.1), retention(), GATE)
    assert metrics(lopsided) == {"knowledge.recognition": "warn", "knowledge.positives.Biscuit": "fail"}
    assert judge(knowledge(weighted=0.62, positives=0.3), retention(), GATE).passed


def test_advice_is_one_diagnosis():
    under = judge(knowledge(weighted=0.5, positives=0.0), retention(), GATE)
    assert all("train longer" in r.message and "lower the learning rate or the epochs" not in r.message
               for r in under.reasons)
    over = judge(knowledge(), retention(kl=0.8), GATE)
    assert all("lower the learning rate or the epochs" in r.message and "train longer" not in r.message
               for r in over.reasons)
    both = judge(knowledge(weighted=0.5, positives=0.0), retention(kl=0.8), GATE, {"selfaug": 0.5})
    assert {r.metric for r in both.reasons} == {"retention.kl", "knowledge.recognition",
                                                "knowledge.positives.Biscuit"}
    for reason in both.reasons:
        assert "before it learned the entity" in reason.message
        assert "raise the epochs (smaller steps" in reason.message
        assert "train longer" not in reason.message and "lower the learning rate or the epochs" not in reason.message


def test_the_failing_side_decides_over_a_warning():
    # It does not know its entity (fail) and forgot a little (warn): train longer, keeping the rest.
    under = judge(knowledge(weighted=0.5, positives=0.0), retention(ratio=0.95), GATE, {"selfaug": 2})
    assert metrics(under) == {"retention.ratio": "warn", "knowledge.recognition": "fail",
                              "knowledge.positives.Biscuit": "fail"}
    for reason in under.reasons:
        assert "train longer" in reason.message and "raise SelfAug above the run's 2" in reason.message
        assert "lower the learning rate" not in reason.message and "before it learned" not in reason.message
    # It forgot (fail) and recognizes a little less well than it should (warn): train less.
    over = judge(knowledge(weighted=0.7), retention(kl=0.8), GATE)
    assert metrics(over) == {"retention.kl": "fail", "knowledge.recognition": "warn"}
    assert all("lower the learning rate or the epochs" in r.message and "train longer" not in r.message
               for r in over.reasons)
    # Both only warn: the run drifted before it learned.
    both = judge(knowledge(weighted=0.7), retention(ratio=0.95), GATE)
    assert all("before it learned the entity" in r.message for r in both.reasons)


def test_ungated_ratio_becomes_a_note():
    v = judge(knowledge(), retention(ratio=None, families=(family(gated=False),)), GATE)
    assert v.verdict == "pass"
    assert any("not gated" in n for n in v.notes)


def test_thresholds_are_configuration():
    strict = GateConfig(kl_warn=0.001, kl_fail=0.005)
    assert metrics(judge(knowledge(), retention(kl=0.01), strict)) == {"retention.kl": "fail"}
    with pytest.raises(ConfigError, match="retention_fail 0.99 must be <= retention_warn"):
        GateConfig(retention_fail=0.99)
    with pytest.raises(ConfigError, match="unknown check setting"):
        CheckConfig.from_dict({"probes": 3})
    assert CheckConfig.from_dict({"gate": {"kl_fail": 0.9}}).gate.kl_fail == 0.9


def test_report_json_round_trip():
    bleed = Bleed(12, 0.1, 0.2, 0.0, 0.0, ())
    k, r = knowledge(), retention(bleed=bleed)
    report = CheckReport(3, "run-3", "tiny-random", "torch", "torch:tiny-random+adapter", "runs/3/adapter",
                         "abc", 1.0, 2.0, k, r, judge(k, r, GATE), CheckConfig().to_dict())
    back = CheckReport.from_json(report.to_json())
    assert back == report
    assert replace(back, run_id=4) != report
    stored = report.to_dict()  # as written before families recorded lost and gained items
    for f in stored["retention"]["families"]:
        del f["lost"], f["gained"]
    old = CheckReport.from_dict(stored)
    assert old.retention.families[0].lost is None and old.knowledge == report.knowledge


def test_forgetting_advice_follows_the_run_settings():
    plain = judge(knowledge(), retention(kl=0.2, agreement=0.85), GATE)
    assert all("train with SelfAug (selfaug 0.5)" in r.message for r in plain.reasons if r.metric.startswith("retention"))
    tuned = judge(knowledge(), retention(kl=0.2, agreement=0.85), GATE, {"selfaug": 0.5, "learning_rate": 2e-3})
    messages = [r.message for r in tuned.reasons if r.metric.startswith("retention")]
    assert messages and all("raise SelfAug above the run's 0.5" in m and "train with SelfAug" not in m
                            for m in messages)


def test_open_answer_facts_warn_and_recommend_the_card_only_when_it_helps():
    from sdft_local.check.report import OpenFacts

    def with_open(tuned, tuned_card):
        return replace(knowledge(), open_facts=OpenFacts(0.0, tuned, 0.0, tuned_card, 6))

    helped = judge(with_open(0.2, 0.9), retention(), GATE)
    [reason] = [r for r in helped.reasons if r.metric == "knowledge.open_facts"]
    assert reason.level == "warn" and "use the card" in reason.message and "90%" in reason.message
    useless = judge(with_open(0.0, 0.0), retention(), GATE)
    [reason] = [r for r in useless.reasons if r.metric == "knowledge.open_facts"]
    assert "does not help this model" in reason.message and "use the card" not in reason.message
    assert judge(with_open(0.8, 0.8), retention(), GATE).verdict == "pass"
