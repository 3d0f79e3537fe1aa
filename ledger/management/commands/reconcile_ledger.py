from django.core.management.base import BaseCommand, CommandError

from ledger import money
from ledger.selectors import ledger_reconcile


class Command(BaseCommand):
    help = (
        "Check the ledger: cached balances equal their entries, every transaction "
        "balances per currency, every currency sums to zero, no wallet or reserve is "
        "negative. Exits non-zero naming each problem."
    )

    def handle(self, *args, **options):
        report = ledger_reconcile()
        if not report.ok:
            for problem in report.problems:
                self.stderr.write(f"[{problem.check}] {problem.message}")
            raise CommandError(f"Ledger does not reconcile: {len(report.problems)} problem(s).")
        self.stdout.write(
            f"Ledger OK: {report.accounts} accounts, {report.transactions} transactions, "
            f"{report.entries} entries; every currency sums to zero."
        )
        for code, (reserve, wallets) in report.totals.items():
            self.stdout.write(
                f"  {code}: reserve {money.fmt(reserve, code)}, "
                f"customer wallets {money.fmt(wallets, code)}"
            )
