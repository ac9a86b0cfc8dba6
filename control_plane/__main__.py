"""`python -m control_plane` is the `control-plane` command."""

from control_plane.cli import main

main()
