"""Statistics, summaries and the HTML report."""
