"""Shared by the wallet tests."""

from decimal import Decimal

from django.core.management import call_command
from rest_framework.test import APIClient

from ledger.models import AccountKind, LedgerTransaction
from ledger.selectors import balance_get
from ledger.services import house_account

PHONE = "+256770000001"  # the sandbox pays it out, one webhook
FAILING_PHONE = "+256770000006"  # the sandbox's payouts to it fail
BANK = {
    "bank_name": "Stanbic Bank",
    "account_name": "Ada Lovelace",
    "account_number": "9030012345678",
}


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def balance(user, currency: str = "UGX") -> Decimal:
    return balance_get(user=user, currency=currency)


def hold_balance(currency: str = "UGX") -> Decimal:
    account = house_account(kind=AccountKind.WITHDRAWAL_HOLD, currency=currency)
    account.refresh_from_db()
    return account.balance


def postings(withdrawal_id, what: str) -> int:
    return LedgerTransaction.objects.filter(
        idempotency_key=f"withdrawal:{withdrawal_id}:{what}"
    ).count()


def assert_reconciles() -> None:
    call_command("reconcile_ledger")  # raises CommandError when it does not


def withdraw(client, *, amount="100000", currency="UGX", method="mobile_money", key=None, **dest):
    destination = dest or ({"phone_number": PHONE} if method == "mobile_money" else BANK)
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(
        "/api/wallet/withdrawals",
        {"currency": currency, "amount": amount, "method": method, "destination": destination},
        format="json",
        **headers,
    )
