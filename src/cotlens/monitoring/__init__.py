"""The monitor commands: ``cotlens monitor`` scores monitors on labelled episodes (``monitor``, its report in
``report``), and ``cotlens episodes`` collects labelled episodes from an environment (``collect``). The monitors
themselves are ``cotlens.monitors``."""
