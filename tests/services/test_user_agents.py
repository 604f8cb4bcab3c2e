"""Readable names for User-Agent headers, as the sessions list shows them."""

from __future__ import annotations

import pytest

from sesame.services.user_agents import Device, describe_user_agent

CASES = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
        "Safari/537.36 Edg/124.0.2478.80",
        Device("Edge", "Windows"),
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
        "Safari/537.36",
        Device("Chrome", "Windows"),
    ),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", Device("Firefox", "Linux")),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
        "Safari/605.1.15",
        Device("Safari", "macOS"),
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
        Device("Chrome", "iOS"),
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
        "Mobile/15E148 Safari/604.1",
        Device("Safari", "iPadOS"),
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 "
        "Chrome/117.0.0.0 Mobile Safari/537.36",
        Device("Samsung Internet", "Android"),
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
        "Safari/537.36 OPR/109.0.0.0",
        Device("Opera", "Windows"),
    ),
    (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
        "Safari/537.36",
        Device("Chrome", "ChromeOS"),
    ),
    ("testclient", Device(None, None)),
    ("", Device(None, None)),
]


@pytest.mark.parametrize(("header", "expected"), CASES)
def test_browsers_and_systems_are_recognised(header: str, expected: Device) -> None:
    assert describe_user_agent(header) == expected


def test_unknown_headers_say_so() -> None:
    assert not describe_user_agent("curl/8.5.0").known
    assert describe_user_agent("Firefox/1.0").known


def test_a_huge_header_is_only_read_in_part() -> None:
    assert describe_user_agent("x" * 100_000 + "Firefox/128.0") == Device(None, None)
