"""Spare-parts inventory: categories, parts and the stock ledger."""
