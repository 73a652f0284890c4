"""Regression tests of the security issue; each fails on the code before its fix.

The AMI and FastAGI items, one file each:
1. test_ami_injection.py: CR/LF/NUL in any AMI header name or value is refused before writing.
2. test_event_label_cardinality.py: unknown AMI event names share one `other` metric series.
3. test_ami_message_cap.py: a message past pbx.max_message_bytes drops the link, which
   reconnects.
4. test_fastagi_refusals.py: bad FastAGI input is a logged refusal, not an unhandled exception.
5. test_ami_tls.py: AMI over TLS (pbx.tls) and the clear-text warning.
"""
