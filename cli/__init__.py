"""The command-line adapter: the `kb` command (cli.main) and the demo builder (cli.demo).

It parses arguments, calls the library and the application layer (services/),
and prints; it decides nothing itself.  `python -m cli` and `python -m kb` run it too.
"""
