"""The rig: a real Asterisk 22 (bubblewrap + Debian sid root file system) and SIPp phones.

Used by the integration tests (``tests/fixtures_rig.py``) and by demos. Needs the Debian
packages ``bubblewrap``, ``debootstrap`` (first build only) and ``sip-tester`` (SIPp).
"""

from callcenter.rig.asterisk import (
    AMI_HOST,
    AMI_PORT,
    AMI_SECRET,
    AMI_USERNAME,
    AsteriskRig,
    RigError,
    ensure_rootfs,
)

__all__ = [
    "AMI_HOST",
    "AMI_PORT",
    "AMI_SECRET",
    "AMI_USERNAME",
    "AsteriskRig",
    "RigError",
    "ensure_rootfs",
]
