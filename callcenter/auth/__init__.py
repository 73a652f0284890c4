"""Users, roles, sessions and who may do what."""
