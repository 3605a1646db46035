"""A run's report: the self-contained HTML page (``html``) and the plain-text tables that commands print
(``table``). Reports of other results live beside the code that makes them (``analysis``, ``monitoring``,
``validation``, each experiment)."""
