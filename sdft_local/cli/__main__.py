"""`python -m sdft_local.cli` runs the `sdft` command."""

from . import main

main()
