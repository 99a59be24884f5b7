"""`python -m zsaudit`: the same CLI as the `zsaudit` command."""

from .cli import main

main(prog_name="zsaudit")
