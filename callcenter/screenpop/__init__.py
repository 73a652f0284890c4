"""Screen-pop: the ringing agent's browser shows the caller's record."""
