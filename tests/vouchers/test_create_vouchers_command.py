import csv
import io
import stat
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from tests.vouchers.conftest import assert_code_stored_nowhere
from tests.vouchers.test_codes import CODE_RE
from vouchers import codes
from vouchers.models import Voucher, VoucherBatch

pytestmark = pytest.mark.django_db


def _run(*args):
    out = io.StringIO()
    call_command("create_vouchers", *args, stdout=out)
    return out.getvalue()


def test_prints_new_codes_that_match_the_stored_hashes():
    output = _run("--count", "4", "--amount", "20000", "--currency", "UGX", "--expires-in", "30")
    printed = [line for line in output.splitlines() if CODE_RE.match(line)]
    assert len(printed) == 4
    assert "UGX 20,000" in output and "shown once" in output
    hashes = {codes.code_hash(codes.normalise(p)) for p in printed}
    assert hashes == set(Voucher.objects.values_list("code_hash", flat=True))
    batch = VoucherBatch.objects.get()
    assert batch.actor.startswith("cli:")
    assert (batch.count, batch.amount, batch.currency) == (4, Decimal("20000"), "UGX")
    for plain in printed:
        assert_code_stored_nowhere(plain)


def test_writes_a_private_csv(tmp_path):
    path = tmp_path / "batch.csv"
    output = _run(
        "--count", "3", "--amount", "10.5", "--currency", "usd", "--expires-in", "7",
        "--csv", str(path),
    )  # fmt: skip
    printed = [line for line in output.splitlines() if CODE_RE.match(line)]
    assert f"CSV written to {path}" in output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    rows = list(csv.DictReader(path.open()))
    assert [r["code"] for r in rows] == printed
    batch = VoucherBatch.objects.get()
    for row, voucher in zip(rows, Voucher.objects.order_by("pk"), strict=True):
        assert row["amount"] == "10.50"
        assert row["currency"] == "USD"
        assert row["suffix"] == voucher.suffix == row["code"][-4:]
        assert row["batch"] == str(batch.pk)
        assert row["expires_at"] == voucher.expires_at.isoformat()


def test_refuses_to_overwrite_a_csv_and_issues_nothing(tmp_path):
    path = tmp_path / "old.csv"
    path.write_text("the only copy of yesterday's codes\n")
    with pytest.raises(CommandError, match="exists"):
        _run("--count", "1", "--amount", "5000", "--currency", "UGX", "--expires-in", "1",
             "--csv", str(path))  # fmt: skip
    assert path.read_text() == "the only copy of yesterday's codes\n"
    assert Voucher.objects.count() == 0


@pytest.mark.parametrize(
    "args",
    [
        ["--count", "0", "--amount", "5000", "--currency", "UGX", "--expires-in", "1"],
        ["--count", "2", "--amount", "5000.5", "--currency", "UGX", "--expires-in", "1"],
        ["--count", "2", "--amount", "5000", "--currency", "EUR", "--expires-in", "1"],
        ["--count", "2", "--amount", "5000", "--currency", "UGX", "--expires-in", "-3"],
        ["--count", "2", "--amount", "x", "--currency", "UGX", "--expires-in", "1"],
    ],
)
def test_bad_arguments_fail_cleanly(args):
    with pytest.raises(CommandError):
        _run(*args)
    assert VoucherBatch.objects.count() == 0
    assert Voucher.objects.count() == 0
