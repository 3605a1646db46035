"""Model organisms: small transformers trained here, whose CoT faithfulness is known because it is built in."""
