"""Call records: the durable, idempotent writer of every queue call, its API, and wrap-up."""
