"""Every room's tables: importing this module completes ``Base.metadata``.

Rooms keep their tables beside their code and import only ``callcenter.store.base``; this
registry is what Alembic's environment and the schema tests import to see them all.
"""

from __future__ import annotations

from sqlalchemy import MetaData

import callcenter.agents.models
import callcenter.audit.models
import callcenter.auth.models
import callcenter.customers.models
import callcenter.handover.models
import callcenter.ivr.models
import callcenter.queueconf.models
import callcenter.records.models
import callcenter.reports.models
import callcenter.routing.models
import callcenter.screening.models
import callcenter.shifts.models
import callcenter.supervisor.models
import callcenter.transfers.models
import callcenter.voicemail.models
import callcenter.work.models
import callcenter.worklog.models
from callcenter.store.base import Base

ROOM_MODELS = (
    callcenter.agents.models,
    callcenter.audit.models,
    callcenter.auth.models,
    callcenter.customers.models,
    callcenter.handover.models,
    callcenter.ivr.models,
    callcenter.queueconf.models,
    callcenter.records.models,
    callcenter.reports.models,
    callcenter.routing.models,
    callcenter.screening.models,
    callcenter.shifts.models,
    callcenter.supervisor.models,
    callcenter.transfers.models,
    callcenter.voicemail.models,
    callcenter.work.models,
    callcenter.worklog.models,
)

metadata: MetaData = Base.metadata


def load_models() -> MetaData:
    """The metadata of every room's tables (they are loaded by importing this module)."""
    return metadata
