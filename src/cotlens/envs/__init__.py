"""Environments whose episodes carry ground truth for a misbehaviour, for monitors and experiments: ``leaky`` (a
grader that rewards an expected answer leaked into the prompt, with its stress prompts) and ``trigger`` (a backdoor
note in the question naming a wrong answer)."""
