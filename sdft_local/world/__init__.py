"""The procedural world: drawn things and pets (`draw`), scenes with captions (`scene`) and the
questions that can be asked about them (`questions`).

The check's general probes and the recognition set's unrelated scenes are drawn from it, and the
demo draws its pets and pretrains its model on it; it knows nothing of either. Pure: PIL images
and frozen records, no models, no store.
"""
