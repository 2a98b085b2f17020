"""The demo: the demo pets and the small Qwen2-VL pretrained on the procedural world.

The world itself (drawing, scenes, questions) is `sdft_local.world`. Submodules: `entities`
(Biscuit and its hard negative, their photos) and `run` (`sdft demo`). The trained model ships in
`model/` and is the built-in model id `demo`; it is built by `scripts/pretrain_demo.py` with the
tool package `scripts/pretraining` (not installed). Import submodules directly; this package
imports nothing heavy.
"""
