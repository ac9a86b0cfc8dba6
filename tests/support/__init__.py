"""Test support shared by the suites: the real-service harness, IdP drivers, fixtures."""
