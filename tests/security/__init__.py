"""Regression tests of the security issue: one test (or a few) per finding, each tried the way
an attacker or a curious agent would, each failing on the code before its fix.

- test_web_service.py: against a real `callcenter serve`: live views and /ws/live need a login
  (callers masked for agents), /metrics off the public listener, a routing policy with CR/LF
  refused, cross-site writes and WebSockets refused, sockets closed at logout and when a user
  is disabled, nested JSON and huge URL numbers a 400, CSV formulas neutralised, VIP level and
  tags staff-only, customer calls scoped, audit of logins, customer views and edits and
  exports, follow-up horizon, security headers, over-long headers, per-address throttling.
- test_ami_injection.py: CR/LF/NUL in any AMI header name or value is refused before writing.
- test_event_label_cardinality.py: unknown AMI event names share one `other` metric series.
- test_ami_message_cap.py: a message past pbx.max_message_bytes drops the link, which
  reconnects.
- test_fastagi_refusals.py: bad FastAGI input is a logged refusal, not an unhandled exception.
- test_ami_tls.py: AMI over TLS (pbx.tls) and the clear-text warning.
- test_password_policy.py, test_example_secrets.py: weak passwords refused; `serve` refuses the
  shipped example secrets unless --demo.
- test_fresh_machine.py, test_lock.py: every shared library the browser tests need is there
  (ldd), dependencies installed from hashed lock files.
"""
