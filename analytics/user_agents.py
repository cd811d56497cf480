"""What browser, system and kind of device sent an event, and whether a person did.

The event collection endpoint receives one ``User-Agent`` header per event and stores
a few friendly, low-cardinality fields (like Plausible's Browser / OS / Device reports)
instead of the raw string: the raw string is long, nearly unique per visitor, and
useless for grouping. This module turns the header into those fields. It is pure: no
Flask, no storage; the endpoint hands it a string and gets an :class:`Agent` back.

Why these libraries rather than our own regexes:

* ``ua-parser`` 1.0 with the ``uap-core`` rules (``ua-parser-builtins``, refreshed
  monthly upstream) knows thousands of browsers, OSes and devices. Its Rust resolver
  (``ua-parser-rs``) runs those rules ~10x faster than the pure-Python one. ua-parser
  picks "the best available" resolver silently; we build ours explicitly with
  ``ua_parser.regex.Resolver`` so a missing Rust wheel fails at import, loudly, instead
  of the endpoint quietly getting slow.
* ``crawlerdetect`` (the Python port of JayBizzle/Crawler-Detect) recognises crawlers,
  monitoring agents, HTTP libraries and headless browsers, a list uap-core does not
  attempt (it only tags some crawlers as device "Spider").

Names (chosen to group well, as Plausible does):

* ``browser``: mobile and desktop builds of one browser are one name: "Mobile Safari"
  is "Safari", "Chrome Mobile" / "Chrome Mobile iOS" are "Chrome", "Firefox Mobile" /
  "Firefox iOS" are "Firefox", "Edge Mobile" is "Edge", "Opera Mobile" is "Opera",
  "Amazon Silk" is "Silk", "IE" is "Internet Explorer". Other names are uap-core's
  (e.g. "Samsung Internet", "Yandex Browser", "Vivaldi", "Facebook", "Instagram",
  "Googlebot"). Unknown is "".
* ``browser_version``: "major.minor" ("131.0"), "major" when there is no minor,
  "" when unknown.
* ``os``: "Mac OS X" is "macOS"; Linux distributions (Ubuntu, Fedora, ...) are
  "Linux"; iPadOS is "iOS" (the UA says "CPU OS ... like Mac OS X", as on iPhone).
  Others as uap-core says: "Windows", "Android", "iOS", "Chrome OS", ... Unknown is "".
* ``device``: exactly "desktop", "mobile" or "tablet". Tablet: iPad, Kindle / Silk,
  Android without the "Mobile" token (Google's rule for Android tablets), and any UA
  that says "Tablet". Mobile: iPhone/iPod, Android with "Mobile", other phones. Desktop
  otherwise (including consoles and TVs, and unknown strings).

  Limit: since iPadOS 13, Safari on iPad asks for desktop sites by default and sends
  exactly the macOS Safari string, so such an iPad is "desktop" / "macOS" here. Only
  the page can tell (``navigator.maxTouchPoints > 1``); the tracker script may send
  that hint later.
* ``is_bot``: crawlerdetect says so, or uap-core's device is "Spider", or the string
  names an automation tool crawlerdetect misses (Playwright, Selenium, WebDriver), or
  the header is empty (every browser sends one; only scripts leave it out). Headless
  Firefox and Playwright's WebKit send ordinary browser strings and cannot be told
  apart here.

Cost: the header is capped to :data:`MAX_LENGTH` characters before parsing (bounding
the regex work an attacker can cause) and results are kept in an LRU cache of
:data:`CACHE_SIZE` entries keyed by the capped string; visitors' UAs repeat a lot.
Measured on the fixture strings made unique (one core): cold about 0.4 ms a parse
(~2,400/s), of which crawlerdetect's single big Python regex is ~0.35 ms and the Rust
uap resolver ~0.016 ms; cached about 0.2 µs. Loading the rules at import takes ~150 ms.
If cold parses ever become the bottleneck, the bot check is the part to speed up.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

from crawlerdetect import CrawlerDetect
from ua_parser import Parser, loaders
from ua_parser.regex import Resolver as RustResolver  # needs ua-parser-rs: fail loudly

__all__ = ["Agent", "parse", "MAX_LENGTH", "CACHE_SIZE", "DEVICES"]

MAX_LENGTH = 512
CACHE_SIZE = 10_000
DEVICES = ("desktop", "mobile", "tablet")


class Agent(NamedTuple):
    """The fields an event keeps about its user agent (immutable, hashable)."""

    browser: str
    browser_version: str
    os: str
    device: str
    is_bot: bool


# The Rust resolver with the lazily compiled builtin rules (what ua-parser itself uses
# when ua-parser-rs is installed), but without its own small cache: ours is bigger and
# also covers the bot check.
_parser = Parser(RustResolver(loaders.load_lazy_builtins()))
_crawlers = CrawlerDetect()

_BROWSER_NAMES = {
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": "Safari",
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Chrome WebView",
    "Chromium": "Chromium",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Edge Mobile": "Edge",
    "Opera Mobile": "Opera",
    "Amazon Silk": "Silk",
    "IE": "Internet Explorer",
    "IE Mobile": "Internet Explorer",
    "Other": "",
}

_OS_NAMES = {
    "Mac OS X": "macOS",
    "Other": "",
}
_LINUX_DISTRIBUTIONS = frozenset(
    {
        "Ubuntu", "Kubuntu", "Xubuntu", "Lubuntu", "Debian", "Fedora", "Red Hat",
        "CentOS", "Linux Mint", "Mint", "Arch Linux", "openSUSE", "SUSE", "Gentoo",
        "Slackware", "Mandriva", "Mageia", "PCLinuxOS", "Knoppix",
    }
)

# Automation tools crawlerdetect 0.4 does not list. Headless Chrome, PhantomJS,
# Puppeteer, Lighthouse and the monitoring services are in its list already.
_EXTRA_BOTS = re.compile(r"playwright|selenium|webdriver", re.IGNORECASE)
_TABLET_HINTS = re.compile(r"\b(?:tablet|kindle|silk)\b", re.IGNORECASE)
_PHONE_HINTS = re.compile(r"mobi|phone|opera mini|\bipod\b", re.IGNORECASE)


def parse(user_agent: str | None) -> Agent:
    """The :class:`Agent` for one ``User-Agent`` header value.

    Never raises: ``None``, non-strings, empty, garbage and huge values all give an
    Agent (unknown fields are "", the device "desktop").
    """
    if not isinstance(user_agent, str):
        user_agent = ""
    return _parse_capped(user_agent[:MAX_LENGTH].strip())


@functools.lru_cache(maxsize=CACHE_SIZE)
def _parse_capped(ua: str) -> Agent:
    if not ua:
        return Agent("", "", "", "desktop", True)
    try:
        result = _parser.parse(ua)
    except Exception:  # a rule engine must not take the endpoint down
        result = None
    family = version = os_family = ""
    device_family = device_brand = ""
    if result is not None:
        if result.user_agent is not None:
            family = result.user_agent.family or ""
            version = _version(result.user_agent.major, result.user_agent.minor)
        if result.os is not None:
            os_family = result.os.family or ""
        if result.device is not None:
            device_family = result.device.family or ""
            device_brand = result.device.brand or ""
    try:
        is_bot = _crawlers.is_crawler(ua)
    except Exception:
        is_bot = False
    is_bot = is_bot or device_family == "Spider" or bool(_EXTRA_BOTS.search(ua))
    browser = _BROWSER_NAMES.get(family, family)
    if not browser:
        version = ""
    return Agent(
        browser=browser,
        browser_version=version,
        os=_os_name(os_family),
        device=_device(ua, os_family, device_family, device_brand),
        is_bot=is_bot,
    )


def _version(major: str | None, minor: str | None) -> str:
    if not major:
        return ""
    return f"{major}.{minor}" if minor else major


def _os_name(family: str) -> str:
    if family in _LINUX_DISTRIBUTIONS:
        return "Linux"
    return _OS_NAMES.get(family, family)


def _device(ua: str, os_family: str, device_family: str, device_brand: str) -> str:
    if device_family == "iPad" or device_brand == "Generic_Android_Tablet":
        return "tablet"
    if device_family in ("iPhone", "iPod") or device_family.startswith("iPod"):
        return "mobile"
    if _TABLET_HINTS.search(ua) or (device_brand == "Amazon" and "Kindle" in device_family):
        return "tablet"
    if os_family == "Android":
        # Google's rule: Android phones say "Mobile", Android tablets do not.
        return "mobile" if "Mobile" in ua else "tablet"
    if device_family in ("Generic Smartphone", "Generic Feature Phone"):
        return "mobile"
    if os_family in ("iOS", "Windows Phone", "BlackBerry OS", "KaiOS", "Symbian OS"):
        return "mobile"
    if _PHONE_HINTS.search(ua):
        return "mobile"
    return "desktop"
