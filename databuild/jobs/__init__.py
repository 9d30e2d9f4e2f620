"""Talking to job and lookup binaries (SPEC section 5)."""
