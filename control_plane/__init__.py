"""Security-hardened control plane for real-time voice AI sessions on LiveKit."""

__version__ = "0.1.0"
