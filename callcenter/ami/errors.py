"""One family of errors for everything that can go wrong talking to a PBX."""

from __future__ import annotations


class AmiError(Exception):
    """Base class; ``pbx`` names the PBX so an API can say which one failed."""

    def __init__(self, pbx: str, message: str) -> None:
        super().__init__(f"{pbx}: {message}")
        self.pbx = pbx
        self.message = message


class AmiUnavailable(AmiError):
    """The link is down (or went down while the action was pending)."""


class AmiTimeout(AmiError):
    """The PBX did not answer the action in time."""


class AmiRefused(AmiError):
    """The PBX answered ``Response: Error``; ``message`` carries its text."""


class AmiAuthError(AmiError):
    """Login refused: wrong username or secret (never echoed)."""


class AmiBadValue(AmiError):
    """An action carried a header name or value that would break AMI framing (CR, LF, NUL).

    Raised before anything is written: such a value could end the action early and smuggle a
    second one (an ``Originate``) onto the connection.
    """
