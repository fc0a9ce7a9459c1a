"""One module per subcommand of the ``rasterfast`` command line (see rasterfast.cli)."""
