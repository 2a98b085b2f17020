"""The general probe suite: enough items in every family, checkable answers, a version that
follows the content."""

from __future__ import annotations

from collections import Counter

from sdft_local.check import CheckConfig
from sdft_local.check.probes import TEXT_FAMILY, general_suite, image_families, suite_version

NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def _number(answer: str) -> int:
    word = answer.strip().lower()
    return int(word) if word.isdigit() else NUMBERS.index(word)


def test_default_suite_is_large_and_covers_every_family():
    config = CheckConfig()
    suite = general_suite(config.image_probes, config.text_probes, config.probe_seed)
    families = Counter(item.family for item in suite.items)
    images = [i for i in suite.items if i.family != TEXT_FAMILY]
    assert len(images) >= 120 and families[TEXT_FAMILY] >= 60
    assert set(families) == set(image_families()) | {TEXT_FAMILY} and len(image_families()) >= 5
    assert min(families[f] for f in image_families()) >= 20
    assert all(i.image is not None for i in images)
    assert all(i.image is None for i in suite.items if i.family == TEXT_FAMILY)
    counts = {_number(i.answer) for i in suite.items if i.family == "count"}
    assert set(range(1, 7)) <= counts


def test_items_have_checkable_answers():
    suite = general_suite(60, 30, 0)
    for item in suite.items:
        assert item.answer in item.options and 2 <= len(item.options) <= 6
        assert len(set(item.options)) == len(item.options) and item.question.strip()
    assert len({i.question for i in suite.items}) > len(suite.items) // 4


def test_version_follows_the_content():
    a, b = general_suite(12, 6, 0), general_suite(12, 6, 1)
    assert a.version == suite_version(a.items) and len(a.version) == 16
    assert a.version != b.version
    general_suite.cache_clear()
    assert general_suite(12, 6, 0).version == a.version  # rebuilt from scratch: same pixels, same text
    assert suite_version(a.items[:-1]) != a.version


def test_photos_spread_over_image_families():
    suite = general_suite(24, 6, 0)
    photos = suite.photos(6)
    assert len(photos) == 6 and all(p is not None for p in photos)
    owners = {next(i.family for i in suite.items if i.image is p) for p in photos}
    assert len(owners) >= 3
