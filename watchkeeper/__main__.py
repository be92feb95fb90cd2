"""``python -m watchkeeper`` runs the command line."""

from watchkeeper.runtime.cli import main

main()
