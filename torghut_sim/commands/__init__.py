"""Subcommands of the `torghut-sim` command line, one module each."""
