"""Audit trail: who changed what, from which value to which, in which request."""
