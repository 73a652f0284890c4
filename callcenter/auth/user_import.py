"""A whole team's accounts at once: the rows of a CSV file, checked before anything is stored.

``callcenter user import`` reads it (a file, or standard input so that the initial passwords
need not lie on disk). Columns by header name, in any order: ``username`` and ``password``
(required), ``role`` (default agent), ``name``, ``interfaces`` (separated by spaces or ``;``),
``language`` (zh or en). Every row is checked (fields, the password policy, a username twice
in the file) and every problem reported with its line; one problem and nothing is created.
"""

from __future__ import annotations

import csv
import io
import re

from callcenter.auth.passwords import WeakPassword, check_password
from callcenter.auth.users import NewUser, UserError, check_user_fields

__all__ = ["COLUMNS", "NewUser", "parse_user_rows"]

COLUMNS = ("username", "password", "role", "name", "interfaces", "language")
REQUIRED = ("username", "password")
# A larger file is not a team's accounts; refusing it early keeps a wrong file from hashing
# passwords for minutes.
MAX_ROWS = 5000
_SEPARATORS = re.compile(r"[\s;]+")


def parse_user_rows(text: str) -> tuple[list[NewUser], list[str]]:
    """The users of a CSV text, or the problems found (line: what is wrong), never both."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [(name or "").strip().lower() for name in reader.fieldnames or ()]
    if not header:
        return [], ["the file is empty: a header line is needed (username,password,...)"]
    unknown = [name for name in header if name not in COLUMNS]
    missing = [name for name in REQUIRED if name not in header]
    if unknown or missing or len(set(header)) != len(header):
        return [], [
            f"line 1: the header needs {', '.join(REQUIRED)} and may have "
            f"{', '.join(c for c in COLUMNS if c not in REQUIRED)}, each once"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        ]
    reader.fieldnames = header
    users: list[NewUser] = []
    problems: list[str] = []
    lines: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if None in row:
            problems.append(f"line {line}: more fields than the header names")
            continue
        # Spaces around a field are the file's layout, except in a password (as typed).
        fields = {
            name: (value or "") if name == "password" else (value or "").strip()
            for name, value in row.items()
        }
        if not any(fields.values()):
            continue
        if len(users) + len(problems) >= MAX_ROWS:
            return [], [f"more than {MAX_ROWS} users in one file; split it"]
        try:
            user = _checked(fields)
        except (UserError, WeakPassword) as exc:
            problems.append(f"line {line}: {fields.get('username') or '?'}: {exc}")
            continue
        if user.username in lines:
            problems.append(f"line {line}: {user.username} is also on line {lines[user.username]}")
            continue
        lines[user.username] = line
        users.append(user)
    if problems:
        return [], problems
    if not users:
        return [], ["no users in the file"]
    return users, []


def _checked(fields: dict[str, str]) -> NewUser:
    username = fields["username"]
    role = fields.get("role") or "agent"
    interfaces = tuple(i for i in _SEPARATORS.split(fields.get("interfaces", "")) if i)
    language = fields.get("language") or "zh"
    check_user_fields(username, role, interfaces, language)
    password = fields["password"]
    check_password(password, username)
    return NewUser(
        username=username,
        password=password,
        role=role,
        display_name=fields.get("name", ""),
        interfaces=interfaces,
        language=language,
    )
