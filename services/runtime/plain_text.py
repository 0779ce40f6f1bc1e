"""Names people give that the platform shows to other people: on a page, in a list, in mail.

The request rules refuse ASCII control characters where they matter; these names also refuse
the rest of what makes shown text read other than it is: C1 controls (U+0080 to U+009F; U+0085
is a line break to many readers), line and paragraph separators (U+2028, U+2029: a display name
could start a new paragraph of a mail), and the text-direction controls (U+200E, U+200F, U+202A
to U+202E, U+2066 to U+2069: with U+202E, "invoice<U+202E>fdp.exe" shows as "invoiceexe.pdf").
Joiners and other format characters stay: emoji sequences need them.
"""

from __future__ import annotations

import re

from services.runtime.errors import FieldViolation, InvalidArgument

_MISLEADING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
RULE = "no control characters, line or paragraph separators, or text-direction controls"


def check_plain_text(value: str, field: str) -> None:
    """INVALID_ARGUMENT at ``field`` if ``value`` holds a character that changes how text reads."""
    if _MISLEADING.search(value):
        raise InvalidArgument(
            f"{field} holds characters that change how it reads", violations=[FieldViolation(field, RULE)]
        )
