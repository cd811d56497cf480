"""analytics.user_agents: every row of the real-UA fixture, plus the inputs a public
collection endpoint gets that no browser sends (empty, garbage, huge)."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from analytics import user_agents
from analytics.user_agents import Agent, parse

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "user-agents.csv"


def _rows() -> list[dict[str, str]]:
    with FIXTURE.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


ROWS = _rows()


def test_fixture_has_at_least_40_real_strings():
    assert len(ROWS) >= 40
    assert len({r["user_agent"] for r in ROWS}) == len(ROWS) - 1  # one repeat: iPadOS desktop mode
    assert {r["device"] for r in ROWS} == {"desktop", "mobile", "tablet"}
    assert {r["is_bot"] for r in ROWS} == {"true", "false"}


@pytest.mark.parametrize("row", ROWS, ids=[f"{i:02d}-{r['browser'] or 'unknown'}" for i, r in enumerate(ROWS)])
def test_fixture_row(row):
    assert parse(row["user_agent"]) == Agent(
        browser=row["browser"],
        browser_version=row["browser_version"],
        os=row["os"],
        device=row["device"],
        is_bot=row["is_bot"] == "true",
    )


def test_ipados_desktop_mode_is_indistinguishable_from_macos():
    mac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"
    assert parse(mac) == Agent("Safari", "18.1", "macOS", "desktop", False)


@pytest.mark.parametrize("value", [None, "", "   ", "\t\n", 42, b"curl/8.0"])
def test_missing_or_not_a_string_is_an_empty_bot(value):
    assert parse(value) == Agent("", "", "", "desktop", True)


@pytest.mark.parametrize(
    "value",
    ["asdf", "-", "Mozilla", "Mozilla/5.0", "\x00\x01\x02", "😀" * 50, "(((((", "Mozilla/5.0 (" + ")" * 300],
)
def test_garbage_does_not_raise_and_is_well_formed(value):
    agent = parse(value)
    assert isinstance(agent, Agent)
    assert agent.device in user_agents.DEVICES
    assert isinstance(agent.is_bot, bool)
    assert all(isinstance(x, str) for x in agent[:4])


def test_garbage_is_unknown():
    assert parse("asdf") == Agent("", "", "", "desktop", False)


def test_huge_string_is_capped_before_parsing():
    chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    huge = chrome + " " + "A" * 1_000_000
    started = time.perf_counter()
    agent = parse(huge)
    assert time.perf_counter() - started < 0.5
    assert agent == Agent("Chrome", "131.0", "Windows", "desktop", False)
    # the cache key is the capped string: the same first 512 characters share an entry
    assert parse(chrome + " " + "A" * 5_000) is agent
    assert user_agents._parse_capped.cache_info().maxsize == user_agents.CACHE_SIZE


def test_bot_token_past_the_cap_is_not_seen():
    # documented consequence of capping: only the first MAX_LENGTH characters count
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) " + "x" * user_agents.MAX_LENGTH + " Googlebot/2.1"
    assert parse(ua).is_bot is False


@pytest.mark.parametrize(
    "ua",
    [
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Playwright/1.49",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Selenium",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/127.0.6533.99 Safari/537.36 RuxitSynthetic/1.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36(KHTML, like Gecko) Chrome/69.0.3464.0 Safari/537.36 Chrome-Lighthouse",
        "StatusCake_Uptime_Checker/1.0",
        "Uptime-Kuma/1.23.16",
        "python-httpx/0.19.0",
        "axios/1.2.0",
        "okhttp/4.9.0",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    ],
)
def test_more_bots(ua):
    assert parse(ua).is_bot is True


def test_result_is_cached_and_immutable():
    ua = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    first = parse(ua)
    assert parse(ua) is first
    assert parse("  " + ua + "  ") is first  # surrounding blanks do not split the cache
    with pytest.raises(AttributeError):
        first.browser = "Chrome"  # type: ignore[misc]
    assert hash(first) == hash(Agent(*first))


def test_the_rust_resolver_is_the_one_in_use():
    from ua_parser.regex import Resolver

    assert isinstance(user_agents._parser.resolver, Resolver)
