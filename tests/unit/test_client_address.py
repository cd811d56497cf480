import pytest

from settings import Settings, SettingsError
from web.proxies import client_address, forwarded_host, networks

TRUSTED = networks(("10.0.0.0/8", "192.168.1.1"))


@pytest.mark.parametrize(
    "peer,xff,expected",
    [
        ("203.0.113.5", None, "203.0.113.5"),                      # no proxy at all
        ("203.0.113.5", "1.2.3.4", "203.0.113.5"),                 # an untrusted peer's header is ignored
        ("10.0.0.2", None, "10.0.0.2"),                            # a proxy that added nothing
        ("10.0.0.2", "203.0.113.5", "203.0.113.5"),                # one trusted hop
        ("10.0.0.2", "1.2.3.4, 203.0.113.5", "203.0.113.5"),       # the client's own prefix is not believed
        ("10.0.0.2", "203.0.113.5, 192.168.1.1", "203.0.113.5"),   # two trusted hops are skipped
        ("10.0.0.2", "10.0.0.7, 10.0.0.9", "10.0.0.7"),            # all trusted: the leftmost
        ("10.0.0.2", "garbage, 203.0.113.5", "203.0.113.5"),
        ("10.0.0.2", "203.0.113.5, not-an-ip", "10.0.0.2"),        # a broken hop is not believed
        ("10.0.0.2", "2001:db8::1", "2001:db8::1"),
        ("192.168.1.2", "203.0.113.5", "192.168.1.2"),             # a neighbour, not the proxy
    ],
)
def test_client_address_walks_the_chain_from_the_right(peer, xff, expected):
    assert client_address(peer, xff, TRUSTED) == expected


def test_nothing_trusted_by_default(tmp_path):
    settings = Settings.from_env({"DATAINSIGHT_DATA_DIR": str(tmp_path)})
    assert settings.trusted_proxies == ()
    assert client_address("127.0.0.1", "203.0.113.5", networks(settings.trusted_proxies)) == "127.0.0.1"


def test_trusted_proxies_setting(tmp_path):
    settings = Settings.from_env({"DATAINSIGHT_DATA_DIR": str(tmp_path),
                                  "DATAINSIGHT_TRUSTED_PROXIES": " 127.0.0.1, 10.0.0.0/8 ,::1"})
    assert settings.trusted_proxies == ("127.0.0.1/32", "10.0.0.0/8", "::1/128")
    with pytest.raises(SettingsError, match="DATAINSIGHT_TRUSTED_PROXIES"):
        Settings.from_env({"DATAINSIGHT_DATA_DIR": str(tmp_path), "DATAINSIGHT_TRUSTED_PROXIES": "proxy.local"})


def test_forwarded_host_only_from_a_trusted_proxy():
    assert forwarded_host("app.internal:8050", "bi.example.com", "10.0.0.2", TRUSTED) == "bi.example.com"
    assert forwarded_host("app.internal:8050", "a.example, bi.example.com", "10.0.0.2", TRUSTED) == "bi.example.com"
    assert forwarded_host("app.internal:8050", "evil.example", "203.0.113.5", TRUSTED) == "app.internal:8050"
    assert forwarded_host("app.internal:8050", None, "10.0.0.2", TRUSTED) == "app.internal:8050"


@pytest.mark.parametrize(
    "source,host,same",
    [
        ("http://localhost", "localhost", True),
        ("https://bi.example.com", "bi.example.com", True),
        ("https://bi.example.com:443", "bi.example.com", True),
        ("http://bi.example.com:8050", "bi.example.com:8050", True),
        ("http://bi.example.com/dashboards/1?x=1", "bi.example.com", True),
        ("http://BI.example.com", "bi.example.com", True),
        ("http://[::1]:8050", "[::1]:8050", True),
        ("http://bi.example.com:8051", "bi.example.com:8050", False),
        ("http://bi.example.com.evil.example", "bi.example.com", False),
        ("http://evil.example", "bi.example.com", False),
        ("null", "bi.example.com", False),
        ("file:///tmp/x.html", "bi.example.com", False),
        ("", "bi.example.com", False),
    ],
)
def test_same_host(source, host, same):
    from web.csrf import same_host

    assert same_host(source, host) is same
