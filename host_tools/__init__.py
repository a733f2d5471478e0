"""Host tools for the smart dowel: the `dowel` command line and the library behind it."""
