"""Caller screening: blocked numbers, withheld numbers, the agent's abusive-caller button."""
