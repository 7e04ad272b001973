"""One module per ``samrs`` subcommand (see :mod:`samrs_hf.cli`)."""
