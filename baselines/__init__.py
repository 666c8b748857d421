"""Reference implementations of published methods."""
