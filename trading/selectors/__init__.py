"""trading's read-only selectors, one module per area."""
