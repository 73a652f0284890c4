"""Overflow and surge routing: policies, the pure decision engine, its actuator and API."""
