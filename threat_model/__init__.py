"""The threat model as code: every threat names its mitigation and the test proving it."""
