"""The wallet's routes are in the published schema, exactly, without warnings."""

from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

WALLET_PATHS = {
    "/api/wallet/withdrawals": {"get", "post"},
    "/api/wallet/withdrawals/{withdrawal_id}": {"get"},
    "/api/wallet/withdrawals/{withdrawal_id}/confirm": {"post"},
    "/api/wallet/withdrawals/{withdrawal_id}/cancel": {"post"},
    "/api/wallet/payout-numbers": {"get", "post"},
    "/api/wallet/payout-numbers/{number_id}": {"delete"},
    "/api/wallet/payout-numbers/{number_id}/confirm": {"post"},
    "/api/wallet/deposits": {"get", "post"},
    "/api/wallet/deposits/{deposit_id}": {"get"},
    "/api/wallet/limits": {"get"},
    "/api/wallet/limits/tier-request": {"post"},
    "/api/wallet/statement": {"get"},
}


def test_wallet_schema_has_every_route_and_no_warnings():
    GENERATOR_STATS.reset()
    generator = SchemaGenerator(patterns=[path("api/wallet/", include("wallet.urls"))])
    schema = generator.get_schema(request=None, public=True)
    assert dict(GENERATOR_STATS._warn_cache) == {}
    assert dict(GENERATOR_STATS._error_cache) == {}
    validate_schema(schema)
    assert {p: set(ops) - {"parameters"} for p, ops in schema["paths"].items()} == WALLET_PATHS
    create = schema["paths"]["/api/wallet/withdrawals"]["post"]
    assert {"201", "400", "401", "403", "409", "429"} <= set(create["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
    output = schema["components"]["schemas"]["WithdrawalOutput"]
    assert set(output["required"]) >= {
        "id",
        "status",
        "currency",
        "amount",
        "fee_amount",
        "net_amount",
        "method",
        "destination",
        "confirm_by",
        "created_at",
    }
    statuses = schema["components"]["schemas"]["WithdrawalOutputStatusEnum"]["enum"]
    assert set(statuses) == {
        "awaiting_confirmation",
        "processing",
        "completed",
        "failed",
        "cancelled",
        "expired",
    }
