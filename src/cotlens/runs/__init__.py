"""The run engine: a battery's configuration (``config``), the resumable runner (``runner``), the call cache
(``cache``), the cross-sample batcher (``batcher``), the summary (``summary``), series of checkpoints (``series``)
and the one reader of a finished run directory (``finished``)."""
