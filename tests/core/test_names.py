import pytest

from sdft_local.errors import InvalidNameError
from sdft_local.names import validate_name


@pytest.mark.parametrize("good", ["Biscuit", "Mrs. Smith", "café mug", "max-2"])
def test_accepts_ordinary_names(good):
    assert validate_name(f"  {good} ") == good


@pytest.mark.parametrize(
    "bad, reason",
    [("", "empty"), ("a/b", "separator"), ("a\\b", "separator"), ("..", "'.'"),
     (".hidden", "'.'"), ("x" * 65, "65 characters"), ("bis\x00cuit", "control"),
     ("tab\there", "control"), ("zero\u200bwidth", "invisible")],
)
def test_rejects_unsafe_names_with_reason(bad, reason):
    with pytest.raises(InvalidNameError, match=reason):
        validate_name(bad, "entity name")
