"""The experiments that put models under a pressure and measure their CoTs, one folder each: its config and run
(``run``) and its report renderer (``report``). The machinery they share (arms trained with several seeds, their
report panels) is ``arms`` and ``arms_report``.

Experiments are leaves: nothing below them imports them and they do not import each other (``make lint``). The
CLI lists them in ``cotlens.cli.experiment.EXPERIMENTS``."""
