"""The demo: the demo pets and the small Qwen2-VL pretrained on the procedural world.

The world itself (drawing, scenes, questions) is `sdft_local.world`. Submodules: `entities`
(Biscuit and its hard negative, their photos), `run` (`sdft demo`), `mix` (the demo model's
shape, tokenizer corpus and pretraining dialogues), `pretrain` and `vision_warmup` (the
deterministic, resumable pretraining). The trained model ships in
`model/` and is the built-in model id `demo`. Import submodules directly; this package imports
nothing heavy.
"""
