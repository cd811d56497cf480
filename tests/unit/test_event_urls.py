"""analytics.event_urls: what a public collection endpoint makes of the page URL and
referrer a browser (or anyone) posts."""

from __future__ import annotations

import pytest

from analytics.event_urls import MAX_PATH, MAX_UTM, UTM_KEYS, referrer_host, split_url, utm

EMPTY_UTM = dict.fromkeys(UTM_KEYS, "")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/pricing", ("example.com", "/pricing")),
        ("https://www.example.com/pricing", ("example.com", "/pricing")),
        ("https://WWW.Example.COM/Pricing", ("example.com", "/Pricing")),  # path keeps case
        ("https://blog.example.com/a/b/", ("blog.example.com", "/a/b/")),  # trailing slash kept
        ("https://example.com", ("example.com", "/")),
        ("https://example.com?x=1", ("example.com", "/")),
        ("https://example.com/p?utm_source=x&y=2#section", ("example.com", "/p")),
        ("https://example.com/p#/spa/route?x=1", ("example.com", "/p")),
        ("http://example.com:8080/admin", ("example.com", "/admin")),
        ("https://user:secret@example.com/x", ("example.com", "/x")),
        ("http://localhost:8050/dash", ("localhost", "/dash")),
        ("http://127.0.0.1:8000/", ("127.0.0.1", "/")),
        ("http://[::1]:8080/x", ("::1", "/x")),
        ("https://example.com./x", ("example.com", "/x")),  # trailing root dot
        ("  https://example.com/x  ", ("example.com", "/x")),
        # unicode and IDN
        ("https://example.com/café", ("example.com", "/café")),
        ("https://example.com/caf%C3%A9", ("example.com", "/café")),
        ("https://example.com/%E4%B8%AD%E6%96%87/", ("example.com", "/中文/")),
        ("https://example.com/bad%FFbyte", ("example.com", "/bad\ufffdbyte")),
        ("https://xn--bcher-kva.example/x", ("bücher.example", "/x")),
        ("https://Bücher.example/x", ("bücher.example", "/x")),
        ("https://www.xn--mnchen-3ya.de/", ("münchen.de", "/")),
        ("https://例え.テスト/パス", ("例え.テスト", "/パス")),
        ("https://xn--invalid-.example/", ("xn--invalid-.example", "/")),  # does not round-trip: kept
        ("https://xn--zz.example/", ("xn--zz.example", "/")),  # undecodable: kept
        # not pages
        ("", ("", "")),
        ("   ", ("", "")),
        (None, ("", "")),
        (42, ("", "")),
        ("example.com/pricing", ("", "")),  # no scheme
        ("www.example.com", ("", "")),
        ("/pricing", ("", "")),
        ("//example.com/pricing", ("", "")),  # scheme-relative
        ("javascript:alert(1)", ("", "")),
        ("javascript://example.com/%0Aalert(1)", ("", "")),
        ("data:text/html,<script>alert(1)</script>", ("", "")),
        ("file:///etc/passwd", ("", "")),
        ("about:blank", ("", "")),
        ("ftp://example.com/file", ("", "")),
        ("https://", ("", "")),
        ("https:///path", ("", "")),
        ("http://[::1/x", ("", "")),  # broken IPv6 literal: urlsplit raises, we do not
        ("https://exa mple.com/", ("", "")),
        ("https://exa<mple.com/", ("", "")),
        ("https://.example.com/", ("", "")),
        ("https://a..b/", ("", "")),
        ("not a url at all", ("", "")),
        ("\x00\x01", ("", "")),
    ],
)
def test_split_url(url, expected):
    assert split_url(url) == expected


def test_split_url_caps_the_path():
    host, path = split_url("https://example.com/" + "a" * 5_000 + "?q=1")
    assert host == "example.com"
    assert path == "/" + "a" * (MAX_PATH - 1)
    assert len(path) == MAX_PATH


def test_split_url_huge_input_does_not_raise():
    assert split_url("https://example.com/" + "%" * 1_000_000) == ("example.com", "/" + "%" * (MAX_PATH - 1))
    assert split_url("https://" + "a" * 1_000_000) == ("", "")  # longer than DNS allows
    assert split_url("https://" + "a" * 253) == ("a" * 253, "/")
    assert split_url("https://" + "a" * 254) == ("", "")


def test_utm_all_five():
    url = ("https://example.com/?utm_source=newsletter&utm_medium=email&utm_campaign=spring+sale"
           "&utm_content=hero%20button&utm_term=running%20shoes&other=1")
    assert utm(url) == {
        "utm_source": "newsletter",
        "utm_medium": "email",
        "utm_campaign": "spring sale",
        "utm_content": "hero button",
        "utm_term": "running shoes",
    }


@pytest.mark.parametrize(
    ("url", "source"),
    [
        ("https://example.com/?ref=producthunt", "producthunt"),
        ("https://example.com/?source=hn", "hn"),
        ("https://example.com/?source=hn&ref=producthunt", "hn"),  # source before ref
        ("https://example.com/?ref=producthunt&utm_source=twitter", "twitter"),  # utm wins
        ("https://example.com/?utm_source=&ref=producthunt", "producthunt"),  # empty utm_source
        ("https://example.com/?UTM_SOURCE=Twitter", "Twitter"),  # names case-insensitive, values kept
        ("https://example.com/?utm_source=a&utm_source=b", "a"),  # first wins
        ("https://example.com/?utm_source=%20%20spaced%20", "spaced"),
        ("https://example.com/?utm_source=%E6%97%A5%E6%9C%AC", "日本"),
        ("https://example.com/?utm_source=%FF", "\ufffd"),
        ("https://example.com/#utm_source=fragment", ""),  # fragments are not sent to servers
        ("https://example.com/?utm_source", ""),
    ],
)
def test_utm_source(url, source):
    assert utm(url)["utm_source"] == source


def test_utm_values_are_capped():
    tags = utm("https://example.com/?utm_campaign=" + "x" * 1_000 + "&ref=" + "y" * 500)
    assert tags["utm_campaign"] == "x" * MAX_UTM
    assert tags["utm_source"] == "y" * MAX_UTM


def test_utm_many_fields_does_not_raise():
    url = "https://example.com/?utm_medium=cpc&" + "&".join(f"k{i}=v" for i in range(5_000))
    assert utm(url)["utm_medium"] == "cpc"


@pytest.mark.parametrize(
    "url",
    [None, "", "example.com/?utm_source=x", "javascript:x?utm_source=x", "https://example.com/", "http://[::1?utm_source=x"],
)
def test_utm_nothing(url):
    assert utm(url) == EMPTY_UTM


@pytest.mark.parametrize(
    ("referrer", "own", "expected"),
    [
        ("https://www.google.com/", "example.com", "google.com"),
        ("https://news.ycombinator.com/item?id=1", "example.com", "news.ycombinator.com"),
        ("https://t.co/abc", "example.com", "t.co"),
        ("http://Google.COM:443/search", "example.com", "google.com"),
        ("https://xn--bcher-kva.example/", "example.com", "bücher.example"),
        # same site: internal navigation
        ("https://example.com/pricing", "example.com", ""),
        ("https://www.example.com/pricing", "example.com", ""),
        ("https://example.com/pricing", "www.example.com", ""),
        ("https://EXAMPLE.com:8443/x", "Example.com", ""),
        ("https://example.com/x", "https://www.example.com/", ""),  # own given as a URL
        ("https://example.com/x", "example.com:8050", ""),
        ("https://bücher.example/", "xn--bcher-kva.example", ""),
        # another subdomain is another site
        ("https://blog.example.com/post", "example.com", "blog.example.com"),
        ("https://example.com/", "app.example.com", "example.com"),
        # apps
        ("android-app://com.google.android.gm/", "example.com", "com.google.android.gm"),
        ("android-app://org.telegram.messenger", "example.com", "org.telegram.messenger"),
        # no own hostname known: every readable referrer counts
        ("https://www.google.com/", "", "google.com"),
        ("https://www.google.com/", None, "google.com"),
        # nothing usable
        ("", "example.com", ""),
        (None, "example.com", ""),
        ("   ", "example.com", ""),
        ("google.com", "example.com", ""),
        ("javascript:alert(1)", "example.com", ""),
        ("about:blank", "example.com", ""),
        ("file:///C:/page.html", "example.com", ""),
        ("chrome-extension://abcdef/popup.html", "example.com", ""),
        ("https://", "example.com", ""),
        ("http://[::1/", "example.com", ""),
        ("https://exa mple.com/", "example.com", ""),
    ],
)
def test_referrer_host(referrer, own, expected):
    assert referrer_host(referrer, own) == expected


def test_referrer_host_huge_does_not_raise():
    assert referrer_host("https://" + "a." * 600_000 + "com/", "example.com") == ""
    assert referrer_host("https://google.com/?q=" + "x" * 1_000_000, "example.com") == "google.com"
