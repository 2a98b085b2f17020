"""Reusable widgets: path completion, photo previews, charts."""
