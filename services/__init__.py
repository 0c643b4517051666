"""Application layer: the operations the CLI, the pages and the API share (no Flask here)."""
