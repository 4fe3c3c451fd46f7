"""`python -m cim.cli …`: the `cim` command."""

from cim.cli import app

app()
