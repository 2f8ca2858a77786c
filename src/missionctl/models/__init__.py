"""The model layer: catalog, policy router, budgets, usage ledger, response cache, offline model."""
