"""Reference implementations of published methods, one subpackage per family."""
