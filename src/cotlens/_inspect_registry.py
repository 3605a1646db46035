"""What Inspect imports through cotlens's ``inspect_ai`` entry point: the tasks ``cotlens/lanham`` and
``cotlens/hints``, and the scorer ``cotlens/monitor`` (``cotlens.inspect_tasks``)."""

from cotlens.inspect_tasks import hints, lanham, monitor

__all__ = ["hints", "lanham", "monitor"]
