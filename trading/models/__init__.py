"""trading's models, one module per area; each is imported here so Django sees it."""
