"""What a value must look like before it may become part of an AMI action.

Every API and configuration model whose field ends up in an AMI header (an interface, a member
name, a context, an extension, a reason) uses these types, so a request is refused with a 400
naming the field. ``AmiLink.send`` refuses CR, LF and NUL again for every header it writes:
this is the first line, that is the last.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

# No control characters: a CR/LF would let a value add headers (or actions) of its own.
PLAIN_PATTERN = r"^[^\x00-\x1f\x7f]*$"
# A channel technology and resource, e.g. PJSIP/1001 or Local/1001@agents/n.
INTERFACE_PATTERN = r"^[A-Za-z0-9]+/[^\s,|\x00-\x1f\x7f]+$"
# A dialplan context or extension (also a queue to move callers to).
DIALPLAN_NAME_PATTERN = r"^[A-Za-z0-9_+.-]{1,80}$"

Interface = Annotated[str, Field(min_length=3, max_length=120, pattern=INTERFACE_PATTERN)]
Plain = Annotated[str, Field(max_length=120, pattern=PLAIN_PATTERN)]
Reason = Annotated[str, Field(max_length=80, pattern=PLAIN_PATTERN)]
DialplanName = Annotated[str, Field(pattern=DIALPLAN_NAME_PATTERN)]
