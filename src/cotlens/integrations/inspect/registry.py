"""What Inspect imports through cotlens's ``inspect_ai`` entry point: the tasks ``cotlens/lanham`` and
``cotlens/hints``, and the scorer ``cotlens/monitor`` (``cotlens.integrations.inspect.tasks``)."""

from cotlens.integrations.inspect.tasks import hints, lanham, monitor

__all__ = ["hints", "lanham", "monitor"]
