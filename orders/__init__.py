"""Service orders: placement against stock, lines, and the status lifecycle."""
