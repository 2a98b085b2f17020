"""The demo: a procedural world, the demo pets and the small Qwen2-VL pretrained on that world.

Submodules: `draw` (Pillow drawing of every thing), `world` (scene specs, rendering, captions),
`questions` (question families, probe items, text facts), `entities` (Biscuit and its hard
negative, their photos), `mix` (the demo model's shape, tokenizer corpus and pretraining
dialogues), `pretrain` (the deterministic, resumable pretraining). The trained model ships in
`model/` and is the built-in model id `demo`. Import submodules directly; this package imports
nothing heavy.
"""
