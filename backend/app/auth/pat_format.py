"""The text of a personal access token: `pya_pat_`, 43 base62 characters of 32 random bytes,
and 6 base62 characters of their CRC32, like GitHub's tokens.

The prefix lets leak scanners (and people) recognise one; the checksum lets them, and us, tell
a real token from a typo or a guess without asking the database: a malformed token is refused
before any query.
"""

import secrets
import zlib

PAT_PREFIX = "pya_pat_"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_INDEX = {character: value for value, character in enumerate(_ALPHABET)}
RANDOM_BYTES = 32
RANDOM_CHARS = 43  # 62**43 > 2**256: every 32-byte value fits, padded with leading zeros
CHECKSUM_CHARS = 6  # 62**6 > 2**32
PAT_LENGTH = len(PAT_PREFIX) + RANDOM_CHARS + CHECKSUM_CHARS
# What lists and the audit log show of a token: the prefix and the first random characters.
DISPLAY_PREFIX_LENGTH = len(PAT_PREFIX) + 6


def _base62(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        digits.append(_ALPHABET[digit])
    if value:
        raise ValueError("the value does not fit the width")
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), CHECKSUM_CHARS)


def new_personal_access_token() -> str:
    body = _base62(int.from_bytes(secrets.token_bytes(RANDOM_BYTES)), RANDOM_CHARS)
    return PAT_PREFIX + body + _checksum(body)


def looks_like_personal_access_token(token: str) -> bool:
    """Whether the token claims to be one (by its prefix): it is then checked as one only."""
    return token.startswith(PAT_PREFIX)


def is_well_formed(token: str) -> bool:
    """The prefix, the length, the alphabet and the checksum: no database needed."""
    if len(token) != PAT_LENGTH or not token.startswith(PAT_PREFIX):
        return False
    body = token[len(PAT_PREFIX) : len(PAT_PREFIX) + RANDOM_CHARS]
    checksum = token[len(PAT_PREFIX) + RANDOM_CHARS :]
    if any(character not in _INDEX for character in body):
        return False
    return secrets.compare_digest(_checksum(body), checksum)


def display_prefix(token: str) -> str:
    return token[:DISPLAY_PREFIX_LENGTH]
