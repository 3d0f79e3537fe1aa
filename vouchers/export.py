"""CSV of freshly issued vouchers — built in memory for the one response that
shows the plain codes, never written by the server except where the operator
asks (`create_vouchers --csv PATH`)."""

import csv
import io

from ledger.money import quantize
from vouchers.models import Voucher

HEADER = ["code", "amount", "currency", "expires_at", "suffix", "batch"]


def vouchers_csv(issued: list[tuple[Voucher, str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    for voucher, plain in issued:
        writer.writerow(
            [
                plain,
                str(quantize(voucher.amount, voucher.currency)),
                voucher.currency,
                voucher.expires_at.isoformat(),
                voucher.suffix,
                voucher.batch_id,
            ]
        )
    return buf.getvalue()
