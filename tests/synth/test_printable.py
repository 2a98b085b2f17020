"""Student answers are stored in a form that survives the tokenizer round trip training needs."""

from sdft_local.models.processor import load_tokenizer
from sdft_local.text import printable


def test_printable_drops_broken_bytes_and_controls_and_composes():
    assert printable("a\ufffdb\x0bc\x00 d\tе\n") == "abc d\tе"
    assert printable("sleep\u0307") == "slee\u1e57"


def test_printable_text_round_trips_through_the_tokenizer(tiny_model_dir):
    tok = load_tokenizer(tiny_model_dir)
    raw = "ǉ hap\x0b sleep\u0307 \ufffd bir\\ng Object\\"
    text = printable(raw)
    assert tok.decode(tok.encode(text, add_special_tokens=False)) == text
    assert tok.decode(tok.encode(raw, add_special_tokens=False)) != raw
