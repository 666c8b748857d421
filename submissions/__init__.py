"""Third-party methods, one folder each (adapter module, submission.yaml, README)."""
