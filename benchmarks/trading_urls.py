"""The project's routes plus ``POST /bench/transfer``: one locked two-account
transfer, the least a database-writing Django request can do (the ceiling)."""

import json

from django.db import connection, transaction
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


urlpatterns = [path("bench/transfer", transfer), *project_urlpatterns]
