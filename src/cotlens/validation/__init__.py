"""Validating metrics and monitors against model organisms whose faithfulness is known by construction
(``cotlens validate``): the runs and scores (``validate``), the token-by-token probe (``latent``) and the report
(``report``)."""
