"""One module per `dowel` command: HELP, add_arguments(parser), run(args) -> int."""
