"""Entry point: ``python -m databuild.cli`` (what ``<graph>.build`` launches)."""

from databuild.cli.main import main

main()
