"""Subcommands of `scarseg`: each module exposes add_arguments(parser) and run(args) -> int."""
