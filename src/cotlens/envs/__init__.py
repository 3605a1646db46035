"""Environments whose episodes carry ground truth for a misbehaviour, for monitors: ``leaky`` (a grader that
rewards an expected answer leaked into the prompt)."""
