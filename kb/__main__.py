"""`python -m kb` runs the `kb` command (which lives in the adapter package cli/).

An entry script, imported by nothing: it ties no module of kb/ to the layer above
(tests/test_layers.py allows exactly this one import)."""

from cli.main import main

main()
