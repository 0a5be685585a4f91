"""The use cases, one module per thing a user or admin manages, on one small per-request kernel."""
