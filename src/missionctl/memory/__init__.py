"""Agent memory: what agents learned, per agent and shared per tenant, found by full-text search."""
