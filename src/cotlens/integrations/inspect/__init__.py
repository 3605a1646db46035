"""Inspect (UK AISI): cotlens's batteries as Inspect tasks and its monitors as a scorer (``tasks``, registered
through ``registry``, the ``inspect_ai`` entry point), and Inspect logs read as monitor episodes (``log``).
Needs the ``inspect`` extra."""
