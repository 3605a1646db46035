"""What Inspect imports through cotlens's ``inspect_ai`` entry point: the tasks ``cotlens/lanham`` and
``cotlens/hints`` (``cotlens.inspect_tasks``)."""

from cotlens.inspect_tasks import hints, lanham

__all__ = ["hints", "lanham"]
