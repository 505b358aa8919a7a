"""``python -m command_center ...`` is the ``mscc`` command (the demo starts its helpers this way)."""

from command_center.cli import main

main()
