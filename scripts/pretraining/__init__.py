"""Building the demo model (`sdft demo`'s base model, built-in id `demo`): a tool, not part of the package.

`mix` (the demo model's shape, tokenizer corpus and pretraining dialogues), `vision_warmup` (stage
1: the vision tower against the scene specs) and `pretrain` (stage 2 and the shipped folder:
deterministic and resumable). `scripts/pretrain_demo.py` is the command; the result ships in
`sdft_local/demo/model`. They use the installed package (`sdft_local.world`, `sdft_local.models`),
never the reverse.
"""
