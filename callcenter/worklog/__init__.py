"""Work log: each agent's daily log, drafted by the service, written and submitted by the agent,
checked and signed off by a supervisor; its completion is a report figure."""
