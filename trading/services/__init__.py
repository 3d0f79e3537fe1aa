"""trading's write services, one module per area (ledger, prices, quotes, trades)."""
