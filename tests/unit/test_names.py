"""Names are one line: the check every service uses, and the helper every header goes through."""
import pytest

from analytics.names import check_name, header_text
from errors import InvalidInput, InvalidSpec


@pytest.mark.parametrize("bad, what", [
    ("Sales\r\nBcc: x@evil.example", "line break"), ("Sales\nQ1", "line break"), ("Sales\x00", "control character"),
    ("Sales\tQ1", "control character"), ("Sales\x85Q1", "line break"), ("Sales\x9bQ1", "control character"), ("Sales\u2028Q1", "line break"),
    ("Sales\u202eQ1", "direction"), ("Sales\x1b[31m", "control character"),
])
def test_a_name_with_control_characters_is_refused_naming_the_field(bad, what):
    with pytest.raises(InvalidInput) as raised:
        check_name(bad, "dashboard name", field="name")
    assert "dashboard name" in raised.value.message and what in raised.value.message
    assert raised.value.details == {"field": "name"}


def test_a_good_name_is_trimmed_and_the_error_class_is_the_callers():
    assert check_name("  Weekly sales · Ünïcode 📈 ", "dashboard name") == "Weekly sales · Ünïcode 📈"
    with pytest.raises(InvalidSpec):
        check_name("a\nb", "title", error=InvalidSpec)
    with pytest.raises(InvalidInput, match="at most 200"):
        check_name("x" * 201, "dashboard name")
    with pytest.raises(InvalidInput, match="dashboard name cannot be empty"):
        check_name("  ", "dashboard name")
    assert check_name(None, "title", required=False) == ""


@pytest.mark.parametrize("raw", ["Sales\r\nBcc: x@evil.example", "a\x00b\x85c\u2028d\u202ee\tf", "\r\n", "ok"])
def test_header_text_is_always_one_clean_line(raw):
    out = header_text(raw)
    assert not any(ch in out for ch in "\r\n\x00\x85\u2028\u202e\t")
    assert out == out.strip() and "  " not in out
    assert header_text("Sales\r\nBcc: x@evil.example") == "Sales Bcc: x@evil.example"
