"""sdft-local's terminal app (Textual): a thin client of the `sdft_local` library.

Owns screens, widgets, styles and the workers that drive the library's generators; it owns no
pipeline logic. Heavy libraries (torch, transformers, mlx) are imported only by the library calls a
screen makes, never at start-up.
"""
