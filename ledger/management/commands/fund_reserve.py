from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from dtexchange.errors import DomainError
from ledger import money
from ledger.services import reserve_fund


class Command(BaseCommand):
    help = "Fund the house reserve of CURRENCY with AMOUNT from equity (one ledger posting)."

    def add_arguments(self, parser):
        parser.add_argument("currency", help=f"one of {', '.join(money.CURRENCIES)}")
        parser.add_argument("amount", help="a positive decimal within the currency's precision")
        parser.add_argument(
            "--key",
            default=None,
            help="idempotency key: running again with the same key adds nothing",
        )

    def handle(self, *args, currency: str, amount: str, key: str | None, **options):
        try:
            value = Decimal(amount.replace(",", "").replace("_", ""))
        except InvalidOperation:
            raise CommandError(f"AMOUNT must be a decimal number, not {amount!r}.") from None
        try:
            result = reserve_fund(
                currency=currency, amount=value, actor="command:fund_reserve", idempotency_key=key
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        code = money.currency(currency).code
        txn = result.transaction
        if result.replayed:
            self.stdout.write(f"Already funded under key {key!r} (transaction {txn.pk}).")
        else:
            self.stdout.write(
                f"Funded the {code} reserve with {money.fmt(value, code)} "
                f"(ledger transaction {txn.pk})."
            )
