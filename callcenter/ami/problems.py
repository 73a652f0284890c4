"""How an AMI failure is told to an HTTP client: which problem each kind of failure is.

Rooms name their own problems (the supervisor's are ``Refusal``s that raise its
``ControlError``); the mapping from the AmiError family to them is this one function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callcenter.ami.errors import AmiError, AmiRefused, AmiTimeout, AmiUnavailable
from callcenter.web.errors import ApiError, Problem

PBX_REFUSED = Problem(502, "pbx-refused", "the PBX refused the action")
PBX_UNAVAILABLE = Problem(503, "pbx-unavailable", "the PBX is not connected")
PBX_TIMEOUT = Problem(504, "pbx-timeout", "the PBX did not answer in time")


@dataclass(frozen=True, slots=True)
class PbxProblems:
    refused: Problem = PBX_REFUSED
    unavailable: Problem = PBX_UNAVAILABLE
    timeout: Problem = PBX_TIMEOUT
    # Any other AmiError (bad value, login refused): the PBX did not do it.
    error: Problem = PBX_REFUSED


DEFAULT = PbxProblems()


def pbx_failure(exc: AmiError, problems: PbxProblems = DEFAULT, **details: Any) -> ApiError:
    """The API error for a failed action, with the PBX's own words and its name."""
    if isinstance(exc, AmiRefused):
        return problems.refused(exc.message, pbx=exc.pbx, **details)
    if isinstance(exc, AmiTimeout):
        return problems.timeout(exc.message, pbx=exc.pbx, **details)
    if isinstance(exc, AmiUnavailable):
        return problems.unavailable(f"PBX {exc.pbx} is not connected", pbx=exc.pbx, **details)
    return problems.error(exc.message, pbx=exc.pbx, **details)
