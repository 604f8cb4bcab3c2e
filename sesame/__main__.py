"""``python -m sesame`` is the ``sesame`` command."""

from sesame.cli import main

main()
