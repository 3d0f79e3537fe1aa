from django.core.management.base import BaseCommand, CommandError

from dtexchange.errors import DomainError
from ledger.services import ledger_reverse


class Command(BaseCommand):
    help = (
        "Post the exact opposite of ledger transaction TRANSACTION_ID (entries are never "
        "edited). Once per transaction; refused if it would take a wallet or reserve below zero."
    )

    def add_arguments(self, parser):
        parser.add_argument("transaction_id", type=int)
        parser.add_argument("--reason", required=True, help="why (kept in the description)")
        parser.add_argument(
            "--actor", default="command:ledger_reverse", help='who, e.g. "staff:12"'
        )

    def handle(self, *args, transaction_id: int, reason: str, actor: str, **options):
        reason = reason.strip()
        if not reason:
            raise CommandError("--reason must say why the transaction is reversed.")
        try:
            result = ledger_reverse(transaction_id=transaction_id, actor=actor, reason=reason)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        txn = result.transaction
        if result.replayed:
            self.stdout.write(
                f"Transaction {transaction_id} was already reversed (transaction {txn.pk})."
            )
        else:
            self.stdout.write(f"Reversed transaction {transaction_id} as transaction {txn.pk}.")
