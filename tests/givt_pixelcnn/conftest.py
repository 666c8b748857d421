"""Shared fixtures of the GIVT and PixelCNN++ tests."""

from tests.threads import one_torch_thread  # noqa: F401  (autouse: one torch thread for these tests)
