"""Idempotent POST and PATCH: a retried request never runs twice."""
