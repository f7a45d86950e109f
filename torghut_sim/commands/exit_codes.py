"""The exit codes of `torghut-sim`: success, a refusal (one readable line), a usage error."""

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
