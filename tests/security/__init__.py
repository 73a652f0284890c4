"""Regression tests of the security issue; each fails on the code before its fix."""
