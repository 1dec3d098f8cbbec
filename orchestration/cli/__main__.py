"""`python -m orchestration.cli`: the `meshmill` command where its console script is not installed."""

from orchestration.cli import main

main()
