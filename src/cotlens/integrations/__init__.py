"""cotlens inside other tools. ``inspect``: Inspect's tasks, scorer and log reader (its model providers as a
backend are ``cotlens.models.inspect_api``)."""
