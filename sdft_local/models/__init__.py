"""Base models: the built-in registry, resolving ids to folders, loading, and the tiny test model.

Submodules: `registry` (ids, resolve/download; import-light), `tiny` + `tokenizer` (the tiny
random Qwen2-VL factory), `processor` + `chat` (tokenizer, processor, inputs), `loaders` (torch
and MLX students), `student` (the runtime the synthesis and check stages query). Import them
directly; this package imports nothing heavy.
"""
