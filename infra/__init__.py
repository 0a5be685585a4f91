"""Deployment and local-run tooling (never shipped in the Lambda package)."""
