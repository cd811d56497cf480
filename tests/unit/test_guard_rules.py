import pytest

from web.auth import callback_output_ids, classify, is_public_callback
from web.context import safe_next_path


@pytest.mark.parametrize(
    "path,method,kind",
    [
        ("/assets/00-bootstrap.min.css", "GET", "asset"),
        ("/_dash-component-suites/dash/x.js", "GET", "asset"),
        ("/api/health", "GET", "open"),
        ("/_dash-layout", "GET", "open"),
        ("/_dash-update-component", "POST", "callback"),
        ("/api/v1/me", "GET", "api"),
        ("/login", "GET", "public-page"),
        ("/login", "POST", "page"),
        ("/setup", "GET", "public-page"),
        ("/datasets", "GET", "page"),
        ("/_dash-mcp", "POST", "page"),
        ("/public/dashboards/abc", "GET", "public-page"),
        ("/public/dashboards/abc", "POST", "page"),
    ],
)
def test_classify(path, method, kind):
    assert classify(path, method) == kind


def test_output_ids_of_single_and_multi_output_callbacks():
    assert callback_output_ids({"output": "public-login-feedback.children"}) == ["public-login-feedback"]
    assert callback_output_ids({"output": "..a.children...b.c.href.."}) == ["a", "b.c"]
    assert callback_output_ids({"output": '{"index":1,"type":"x"}.children'}) == ["x"]
    assert callback_output_ids({"output": '{"index":["MATCH"],"type":"public-widget"}.children'}) == ["public-widget"]
    assert callback_output_ids({"output": '{"index":1}.children'}) is None
    assert callback_output_ids({"output": '{not json.children'}) is None
    assert callback_output_ids({"output": 5}) is None
    assert callback_output_ids(None) is None


def test_only_public_and_router_outputs_are_public():
    assert is_public_callback({"output": "..public-login-feedback.children...public-login-redirect.href.."})
    assert is_public_callback({"output": ".._pages_content.children..._pages_store.data.."})
    assert not is_public_callback({"output": "..public-login-feedback.children...token-list.children.."})
    assert not is_public_callback({"output": "token-list.children"})
    assert not is_public_callback({})
    assert is_public_callback({"output": '{"index":["MATCH"],"type":"public-widget-body"}.children'})
    assert not is_public_callback({"output": '{"index":["MATCH"],"type":"widget-body"}.children'})
    assert not is_public_callback({"output": '..{"index":["MATCH"],"type":"public-w"}.children...token-list.children..'})


@pytest.mark.parametrize(
    "value,expected",
    [
        ("/settings", "/settings"),
        ("/datasets?x=1", "/datasets?x=1"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/login", "/"),
        (None, "/"),
        ("", "/"),
    ],
)
def test_next_path_stays_on_this_site(value, expected):
    assert safe_next_path(value) == expected
