"""Webhooks out: per-tenant subscriptions to the event log, delivered signed through the queue."""
