"""wallet's write services, one module per area, re-exported here."""

from wallet.services.deposits import (
    TopUpNotSettleable,
    top_up_complete,
    top_up_expire,
    top_up_fail,
    top_up_mark_processing,
    top_up_start,
    top_ups_expire,
)
from wallet.services.tiers import tier_request_create, tier_request_decide, tier_set

__all__ = [
    "TopUpNotSettleable",
    "tier_request_create",
    "tier_request_decide",
    "tier_set",
    "top_up_complete",
    "top_up_expire",
    "top_up_fail",
    "top_up_mark_processing",
    "top_up_start",
    "top_ups_expire",
]
