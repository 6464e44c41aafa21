"""The command line (typer only): options, one library call per command, one render. No maths here."""
