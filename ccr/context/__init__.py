"""Per-request knowledge: token counts, session usage, the project a request belongs to."""
