"""Shared fixtures of the ECNF++ tests."""

from tests.threads import one_torch_thread  # noqa: F401  (autouse: one torch thread for these tests)
