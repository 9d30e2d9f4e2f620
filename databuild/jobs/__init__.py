"""Talking to job and lookup binaries (docs/job-protocol.md)."""
