"""Password hashing with Argon2id (argon2-cffi's recommended parameters) and the password policy.

The policy (``check_password``), applied whenever a password is set:

- at least ``MIN_PASSWORD_LENGTH`` (12) characters;
- not the username, nor containing it (case-insensitive);
- not a common password, nor easy to guess: zxcvbn (the password-strength estimator, with
  its own list of the 30,000 most common passwords, English words, names, dates, keyboard
  patterns, repeats and sequences) must rate it ``MIN_STRENGTH`` (4 of 4, "very unguessable").
  ``password``, ``aaaaaaaaaaaa``, ``password1234`` and ``demo-password`` all fail.
"""

from __future__ import annotations

import threading
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified when the username is unknown, so that a wrong username costs as long as a wrong
# password and response times do not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash("no such user")

MIN_PASSWORD_LENGTH = 12
# zxcvbn's score: 0 (too guessable) … 4 (very unguessable: more than 10^10 guesses).
MIN_STRENGTH = 4
# Words of this product that make a password easy to guess here, whoever uses it.
CONTEXT_WORDS = ("callcenter", "call-center", "asterisk", "hotline", "wallboard")
# zxcvbn rates at most this many characters (it refuses longer input); a longer password is
# rated by its start, which is the harder case for it.
_RATED_LENGTH = 72

POLICY = (
    f"a password needs at least {MIN_PASSWORD_LENGTH} characters, must not contain the "
    "username, and must not be a common password or be built from common words, names, "
    "dates or keyboard patterns (try three or four unrelated words, or a password manager's)"
)

# zxcvbn keeps the user inputs of the current call in a module-level dictionary.
_zxcvbn_lock = threading.Lock()


class WeakPassword(ValueError):
    """The password does not meet the policy; the text says why and what the policy is."""


def password_problem(password: str, username: str | None = None) -> str | None:
    """Why the policy refuses ``password`` for ``username``, or None when it is fine."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"it has {len(password)} characters, fewer than {MIN_PASSWORD_LENGTH}"
    if username and username.casefold() in password.casefold():
        return f"it contains the username {username!r}"
    rating = _rate(password, username)
    if rating["score"] < MIN_STRENGTH:
        feedback = rating.get("feedback") or {}
        warning = str(feedback.get("warning") or "").strip()
        return "it is too easy to guess" + (f" ({warning.rstrip('.')})" if warning else "")
    return None


def check_password(password: str, username: str | None = None) -> None:
    """Raise WeakPassword, naming the reason and the policy, unless the policy allows it."""
    problem = password_problem(password, username)
    if problem is not None:
        raise WeakPassword(f"password refused: {problem}; {POLICY}")


def hash_password(password: str, username: str | None = None) -> str:
    """The Argon2id hash of a password that meets the policy (WeakPassword otherwise)."""
    check_password(password, username)
    return _hasher.hash(password)


def hash_pin(pin: str) -> str:
    """The Argon2id hash of a phone PIN (digits only; its guessing is throttled per agent
    number, so the password policy does not apply)."""
    return _hasher.hash(pin)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def _rate(password: str, username: str | None) -> dict[str, Any]:
    from zxcvbn import zxcvbn  # type: ignore[import-untyped]

    user_inputs = [*CONTEXT_WORDS, *([username] if username else [])]
    with _zxcvbn_lock:
        rating: dict[str, Any] = zxcvbn(password[:_RATED_LENGTH], user_inputs=user_inputs)
    return rating
