import getpass
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from dtexchange.errors import DomainError
from ledger.money import fmt
from vouchers.export import vouchers_csv
from vouchers.services import voucher_batch_create


class Command(BaseCommand):
    help = (
        "Issue a batch of vouchers and print their codes (shown only now: the "
        "database keeps a keyed hash). --csv also writes them to a new file."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", required=True)
        parser.add_argument("--amount", required=True, help="Face value of each voucher.")
        parser.add_argument("--currency", required=True, help="UGX or USD.")
        parser.add_argument("--expires-in", required=True, dest="expires_in", help="Days.")
        parser.add_argument("--csv", dest="csv_path", help="Write the codes to this new file.")
        parser.add_argument("--note", default="")

    def handle(self, *args, **opts):
        csv_path = Path(opts["csv_path"]) if opts["csv_path"] else None
        if csv_path is not None and csv_path.exists():
            # Never overwrite: the previous file may hold the only copy of other codes.
            raise CommandError(f"{csv_path} exists; choose a new file.")
        if csv_path is not None and not csv_path.parent.is_dir():
            raise CommandError(f"{csv_path.parent} is not a directory.")
        try:
            issued = voucher_batch_create(
                count=opts["count"],
                amount=opts["amount"],
                currency=opts["currency"],
                expires_in_days=opts["expires_in"],
                actor=f"cli:{getpass.getuser()}",
                note=opts["note"],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        batch = issued[0][0].batch
        out = self.stdout.write
        out(
            f"Batch #{batch.pk}: {batch.count} voucher(s) of {fmt(batch.amount, batch.currency)}, "
            f"valid until {batch.expires_at:%Y-%m-%d %H:%M} UTC. "
            "These codes are shown once and stored nowhere:"
        )
        for _voucher, plain in issued:
            out(plain)
        if csv_path is not None:
            # Printed first, so a failing write still leaves the codes on screen.
            # 0600: the file holds spendable codes.
            fd = os.open(csv_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(vouchers_csv(issued))
            out(f"CSV written to {csv_path}")
