"""Outputs: rows, tables, JSON lines, CSV (and later ladders and reports)."""
