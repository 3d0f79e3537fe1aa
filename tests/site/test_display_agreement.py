"""One set of display rules: the server (dtexchange.display) and the browser
(static/js/format.js, run here by node) show every amount the same way, at
the display precision per currency, cut and never rounded up."""

import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from dtexchange.display import display_approx, display_money, display_number, display_percent
from ledger.money import fmt
from trading.templatetags.site_tags import money

ROOT = Path(__file__).resolve().parents[2]
FORMAT_JS = ROOT / "static" / "js" / "format.js"

AMOUNTS = [
    "0",
    "0.000000000000000000",
    "1",
    "250000",
    "250000.9",
    "1234.5",
    "1234.567",
    "1234.999999",
    "0.00125",
    "0.024060331683170350",
    "12281626.2008015235",
    "0.2498765432",
    "0.999999999999999999",
    "99999999999999999999.999999999999999999",
    "-5",
    "-0.001",
    "-1234.5678",
    "1e3",
    "1E-7",
    ".5",
    "5.",
    "+7.25",
    " 42 ",
    "",
    "abc",
    "1_000",
    "Infinity",
    "NaN",
    "0x10",
]
# Fee rates as the API sends them (decimal fractions, up to 18 decimals).
RATES = [
    "0.025",
    "0.015",
    "0.010",
    "0.005",
    "0.0125",
    "0.00333",
    "0.025000000000000000",
    "0.012345678901234567",
    "0.1",
    "1",
    "0",
    "-0.01",
    "1e-3",
    "",
    "abc",
    "NaN",
]
CODES = ["BTC", "ETH", "SOL", "TRX", "UGX", "USD", "usd", "XYZ"]


def _python(amount: str, code: str) -> dict:
    return {
        "money": display_money(amount, code),
        "number": display_number(amount, code),
        "approx": display_approx(amount, code),
    }


def _run_format_js(names: str, body: str, arg) -> list:
    """Import ``names`` from static/js/format.js in node and print
    ``body`` (a JS expression over ``input``, the JSON argument) as JSON."""
    node = shutil.which("node")
    assert node, "node is needed to run static/js/format.js (apt-get install nodejs)"
    script = (
        f"import {{ {names} }} from {json.dumps(FORMAT_JS.as_uri())};\n"
        "const input = JSON.parse(process.argv[1]);\n"
        f"console.log(JSON.stringify({body}));\n"
    )
    result = subprocess.run(  # noqa: S603 - node on our own file
        [node, "--input-type=module", "-e", script, json.dumps(arg)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"TZ": "America/New_York", "PATH": "/usr/bin:/bin"},  # not the site's zone
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _node(cases: list[tuple[str, str]]) -> list[dict]:
    return _run_format_js(
        "money, number, approx",
        "input.map(([a, c]) => "
        "({ money: money(a, c), number: number(a, c), approx: approx(a, c) }))",
        cases,
    )


def _node_percent(rates: list[str]) -> list[str]:
    return _run_format_js("percent", "input.map((r) => percent(r))", rates)


def test_server_and_browser_show_the_same_fee_percent():
    browser = dict(zip(RATES, _node_percent(RATES), strict=True))
    server = {rate: display_percent(rate) for rate in RATES}
    assert server == browser
    # Exact, never rounded: the fee shown is the fee charged.
    assert server["0.0125"] == "1.25%"
    assert server["0.00333"] == "0.333%"
    assert server["0.025000000000000000"] == "2.5%"
    assert server["0.012345678901234567"] == "1.2345678901234567%"
    assert server["abc"] == "—"


def test_server_and_browser_show_the_same_text_for_every_amount_and_currency():
    cases = [(amount, code) for amount in AMOUNTS for code in CODES]
    browser = _node(cases)
    disagree = [
        (amount, code, _python(amount, code), shown)
        for (amount, code), shown in zip(cases, browser, strict=True)
        if _python(amount, code) != shown
    ]
    assert disagree == []


@pytest.mark.parametrize(
    ("amount", "code", "shown"),
    [
        # The email: 18 decimals of ETH and a rate with 10.
        ("0.024060331683170350", "ETH", "0.02406033 ETH"),
        ("12281626.2008015235", "UGX", "UGX 12,281,626"),
        ("0.00125", "BTC", "0.00125000 BTC"),
        ("1234.999", "USD", "$1,234.99"),  # cut, never rounded up
        ("0.9999999", "SOL", "0.999999 SOL"),
        ("12.3456789", "TRX", "12.345678 TRX"),
        ("250000.9", "UGX", "UGX 250,000"),
        ("-0.001", "USD", "$0.00"),  # no "-0.00"
        ("-5", "USD", "-$5.00"),
        (None, "USD", "—"),
        ("abc", "UGX", "—"),
    ],
)
def test_display_precision_per_currency(amount, code, shown):
    assert display_money(amount, code) == shown
    assert money(amount, code) == shown


def test_money_formatter_of_the_ledger_uses_the_same_rules():
    assert fmt(Decimal("0.024060331683170350"), "ETH") == "0.02406033 ETH"
    assert fmt(Decimal("12281626.2008015235"), "UGX") == "UGX 12,281,626"


def test_a_float_never_reaches_the_display():
    with pytest.raises(TypeError):
        display_money(1.5, "USD")


def test_emails_use_the_same_rules():
    from notifications import formatting

    assert formatting.money("0.024060331683170350", "ETH") == "0.02406033 ETH"
    assert formatting.money("12281626.2008015235", "UGX") == "UGX 12,281,626"
    assert formatting.money("", "UGX") == ""


def _node_times(instants: list[str]) -> list[list[str]]:
    return _run_format_js(
        "timeText, dateTimeText", "input.map((t) => [timeText(t), dateTimeText(t)])", instants
    )


def test_server_and_browser_show_the_same_times_in_east_africa_time():
    """A timeline row added live reads like the rows rendered by the server
    (the template filters in the site's zone), whatever the browser's zone."""
    from datetime import UTC, datetime

    from django.template.defaultfilters import date as date_filter
    from django.utils import timezone

    instants = [
        datetime(2026, 12, 1, 20, 6, 58, tzinfo=UTC),  # 23:06:58 in Kampala
        datetime(2026, 9, 30, 21, 0, 0, tzinfo=UTC),  # the next day there, in September
        datetime(2027, 1, 5, 3, 4, 5, 123456, tzinfo=UTC),
    ]
    browser = _node_times([t.isoformat() for t in instants])
    server = [
        [
            date_filter(timezone.localtime(t), "j M, H:i"),
            date_filter(timezone.localtime(t), "j M Y, H:i:s"),
        ]
        for t in instants
    ]
    assert browser == server
    assert server[0] == ["1 Dec, 23:06", "1 Dec 2026, 23:06:58"]
    assert server[1][1] == "1 Oct 2026, 00:00:00"
