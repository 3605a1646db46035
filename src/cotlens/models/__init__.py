"""Model backends behind one protocol (``base.Model``), built from spec strings (``spec.load_model``)."""
