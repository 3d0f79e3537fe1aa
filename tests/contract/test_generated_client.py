"""A client generated from the published schema works against the live API.

openapi-python-client (a dev dependency, pinned; nobody here wrote it)
generates a typed Python package from /api/schema/ of the live test server;
the test imports it and uses only it to sign in, price a buy paid from the
wallet balance, buy on that quote, and list the trade. A schema a generator
cannot turn into working code (missing types, wrong shapes, unnamed enums)
fails here.

Run it alone:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dtexchange \\
    REDIS_URL=redis://127.0.0.1:6379/0 \\
    .venv/bin/python -m pytest tests/contract/test_generated_client.py -q
"""

import importlib
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.contract.conftest import BALANCES

pytestmark = pytest.mark.django_db(transaction=True)

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
CONFIG = "package_name_override: dtx_client\nproject_name_override: dtx-client\npost_hooks: []\n"


@pytest.fixture
def dtx_client(api_server, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    result = subprocess.run(  # noqa: S603 - the pinned generator from our own virtualenv
        [
            str(GENERATOR),
            "generate",
            "--url",
            f"{api_server.url}/api/schema/?format=json",
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / "dtx_client"),
            "--config",
            str(config),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("dtx_client")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n == "dtx_client" or n.startswith("dtx_client.")]:
            del sys.modules[name]


def test_generated_client_signs_in_quotes_buys_from_the_balance_and_lists(
    api_server, customer, dtx_client
):
    from tests.factories import DEFAULT_PASSWORD

    api = importlib.import_module("dtx_client.api.auth.auth_token")
    models = importlib.import_module("dtx_client.models")
    calculate = importlib.import_module("dtx_client.api.trading.trading_calculate_create")
    buy = importlib.import_module("dtx_client.api.trading.trading_buy_create")
    trades = importlib.import_module("dtx_client.api.trading.trading_trades_retrieve")
    balances = importlib.import_module("dtx_client.api.trading.trading_balances_retrieve")

    anonymous = dtx_client.Client(base_url=api_server.url)
    pair = api.sync(
        client=anonymous,
        body=models.TokenInputRequest(email=customer.email, password=DEFAULT_PASSWORD),
    )
    assert isinstance(pair, models.TokenPair), pair
    client = dtx_client.AuthenticatedClient(base_url=api_server.url, token=pair.access)

    quote = calculate.sync(
        client=client,
        body=models.CalculateInputRequest(
            crypto_currency=models.CryptoCurrencyEnum.BTC,
            fiat_currency=models.FiatCurrencyEnum.UGX,
            amount="360000",
            trade_type=models.TradeTypeEnum.BUY,
            payment_method=models.PaymentMethodEnum.BALANCE,
        ),
    )
    assert isinstance(quote, models.CalculateQuoteOutput), quote
    # 360,000 UGX less 0.5% at 360,000,000 UGX per BTC (tests.factories prices).
    assert quote.crypto_amount == "0.00099500"
    assert quote.fee_amount == "1800"

    trade = buy.sync(
        client=client,
        body=models.TradeInputRequest(
            crypto_currency=models.CryptoCurrencyEnum.BTC,
            fiat_currency=models.FiatCurrencyEnum.UGX,
            amount="360000",
            payment_method=models.PaymentMethodEnum.BALANCE,
            quote_id=quote.quote_id,
        ),
        idempotency_key="generated-client-buy-1",
    )
    assert isinstance(trade, models.TradeOutput), trade
    assert trade.status == models.TradeStatusEnum.COMPLETED
    assert trade.crypto_amount == "0.00099500"
    assert trade.quote_id == quote.quote_id

    listed = trades.sync(client=client, limit=10)
    assert isinstance(listed, models.TradeList), listed
    assert [t.id for t in listed.trades] == [trade.id]

    wallet = balances.sync(client=client)
    by_code = {b.currency: Decimal(b.balance) for b in wallet.balances}
    assert by_code["UGX"] == Decimal(BALANCES["UGX"]) - 360000
    assert by_code["BTC"] == Decimal(BALANCES["BTC"]) + Decimal("0.000995")
