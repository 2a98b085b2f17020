"""sdft-local: teach a vision-language model about your own things, offline.

The core library. It imports no UI; the CLI (`sdft_local.cli`) and the TUI (`sdft_tui`) are
thin clients of the functions exported by the submodules.
"""

__version__ = "0.1.0"
