"""The test doubles, one of each kind (tests/README.md says which test uses which)."""
