"""Signal receivers of the ledger app (thin adapters), connected in apps.py."""

from collections.abc import Callable

from ledger import money
from ledger.services import reserve_fund_demo


def fund_demo_reserves(*, stdout: Callable[[str], None] | None = None, **_kwargs) -> None:
    """accounts.signals.demo_data_requested: fund every reserve once."""
    funded = reserve_fund_demo()
    if stdout is None:
        return
    fresh = [money.fmt(amount, code) for code, amount, now in funded if now]
    if fresh:
        stdout("Reserves funded from equity: " + ", ".join(fresh))
    else:
        stdout("Reserves already funded (nothing added).")
