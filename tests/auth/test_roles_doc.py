"""The roles table of docs/security.md says what the code grants: each ✓ is a permission the
role holds, and each permission and role of the code is in the table."""

from __future__ import annotations

from pathlib import Path

from callcenter.auth.permissions import ROLE_PERMISSIONS, Permission

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
HEADINGS = {
    "agent": "agent",
    "team leader": "team_leader",
    "QA": "qa_evaluator",
    "supervisor": "supervisor",
    "planner": "planner",
    "admin": "admin",
    "security admin": "security_admin",
    "audit admin": "audit_admin",
}


def test_the_roles_table_matches_the_code() -> None:
    lines = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    header = next(line for line in lines if line.startswith("| permission |"))
    roles = [HEADINGS[cell.strip()] for cell in header.strip("|").split("|")[1:-1]]
    assert sorted(roles) == sorted(ROLE_PERMISSIONS)
    table: dict[str, set[str]] = {role: set() for role in roles}
    seen: set[str] = set()
    for line in lines:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if not cells[0].startswith("`"):
            continue
        permission = cells[0].strip("`")
        seen.add(permission)
        for role, cell in zip(roles, cells[1:-1], strict=True):
            if cell == "✓":
                table[role].add(permission)
    assert seen == {p.value for p in Permission}
    assert table == {role: {p.value for p in ROLE_PERMISSIONS[role]} for role in roles}
