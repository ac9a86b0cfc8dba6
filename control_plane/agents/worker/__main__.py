"""``python -m control_plane.agents.worker``: run the voice agent worker (see runner.py)."""

from control_plane.agents.worker.runner import main

# Guarded: job processes re-import the parent's __main__ module under another name.
if __name__ == "__main__":
    main()
