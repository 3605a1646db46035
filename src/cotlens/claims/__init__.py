"""``cotlens claims``: the seed's claims, each put to the experiment that tests it, with a verdict by a rule fixed in
code before any run (``claims``), in one report (``report``); ``result`` is what both share."""
