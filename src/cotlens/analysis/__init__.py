"""Reading finished runs: ``compare`` (runs paired on shared samples, with its report) and ``frames`` (a run as
pandas data frames, ``cotlens.load``)."""
