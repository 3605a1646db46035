"""Validating metrics against model organisms whose faithfulness is known by construction (``cotlens validate``)."""
