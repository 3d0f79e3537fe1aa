"""The project's routes plus the two ceilings of the trading benchmark:

* ``POST /bench/transfer``: one locked two-account transfer in three
  hand-written statements, the least a database-writing Django request can
  do;
* ``POST /bench/transfer-orm``: the same transfer written the way a Django
  view usually is (``select_for_update`` in the ORM, ``F()`` updates): the
  kind of endpoint the first reference ceiling (585 req/s) was.
"""

import json

from django.db import connection, models, transaction
from django.db.models import F
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from dtexchange.urls import urlpatterns as project_urlpatterns

TABLE = "bench_transfer_account"


@csrf_exempt
def transfer(request):
    body = json.loads(request.body)
    src, dst = int(body["from"]), int(body["to"])
    with transaction.atomic(), connection.cursor() as cur:
        # Lock both rows in id order (as the ledger does), check, move 1 unit.
        cur.execute(
            f"SELECT id, balance FROM {TABLE} WHERE id IN (%s, %s) ORDER BY id FOR UPDATE",  # noqa: S608
            [src, dst],
        )
        balances = dict(cur.fetchall())
        if balances.get(src, 0) < 1:
            return JsonResponse({"error": "insufficient"}, status=409)
        cur.execute(f"UPDATE {TABLE} SET balance = balance - 1 WHERE id = %s", [src])  # noqa: S608
        cur.execute(f"UPDATE {TABLE} SET balance = balance + 1 WHERE id = %s", [dst])  # noqa: S608
    return JsonResponse({"ok": True})


class BenchTransferAccount(models.Model):
    """The benchmark's own table (created by trading_api.prepare), read
    through the ORM; not a model of the project (no migration)."""

    balance = models.BigIntegerField()

    class Meta:
        app_label = "trading"
        db_table = TABLE
        managed = False

    def __str__(self) -> str:
        return f"bench account {self.pk}"


@csrf_exempt
def transfer_orm(request):
    body = json.loads(request.body)
    src, dst = int(body["from"]), int(body["to"])
    with transaction.atomic():
        rows = BenchTransferAccount.objects.select_for_update().filter(pk__in=[src, dst])
        balances = {a.pk: a.balance for a in rows.order_by("pk")}
        if balances.get(src, 0) < 1:
            return JsonResponse({"error": "insufficient"}, status=409)
        BenchTransferAccount.objects.filter(pk=src).update(balance=F("balance") - 1)
        BenchTransferAccount.objects.filter(pk=dst).update(balance=F("balance") + 1)
    return JsonResponse({"ok": True})


urlpatterns = [
    path("bench/transfer", transfer),
    path("bench/transfer-orm", transfer_orm),
    *project_urlpatterns,
]
