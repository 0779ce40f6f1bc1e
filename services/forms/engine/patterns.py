"""ECMAScript patterns (``new RegExp(p, "u")``, what the browser runs) for the server's regex engine.

jsonschema-rs already reads ``\\d``, ``\\w`` and ``\\s`` as ECMAScript does, but not all of the syntax:
its engine accepts things a browser refuses (inline flags, possessive quantifiers, POSIX classes,
``\\A``, lone ``]``) and gives ``\\b`` and ``.`` Unicode meanings. ``ecma_pattern`` refuses the former
and rewrites the latter, so a pattern means the same on both sides or is refused on both.
"""

from __future__ import annotations

import re
from typing import Final

_WORD: Final = "[A-Za-z0-9_]"  # ECMAScript's word characters with the u flag (and without i)
_BOUNDARY: Final = f"(?:(?<={_WORD})(?!{_WORD})|(?<!{_WORD})(?={_WORD}))"
_NOT_BOUNDARY: Final = f"(?:(?<={_WORD})(?={_WORD})|(?<!{_WORD})(?!{_WORD}))"
_ANY: Final = "[^\\n\\r\\u2028\\u2029]"  # ECMAScript's "." stops at every line terminator
# ECMAScript's classes as code point ranges: the server's engine reads \d, \w and \s as Unicode
# classes in patterns with lookaround (its backtracking engine), so they are never left to it.
_RANGES: Final = {
    "d": [(0x30, 0x39)],
    "w": [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)],
    "s": [(0x09, 0x0D), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A), (0x2028, 0x2029),
          (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000), (0xFEFF, 0xFEFF)],
}  # fmt: skip


def _complement(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    found, start = [], 0
    for low, high in ranges:
        if low > start:
            found.append((start, low - 1))
        start = high + 1
    return [*found, (start, 0x10FFFF)]


def _members(ranges: list[tuple[int, int]]) -> str:
    return "".join(f"\\u{{{low:X}}}" if low == high else f"\\u{{{low:X}}}-\\u{{{high:X}}}" for low, high in ranges)


# The members of each class and its negation, for use inside a character class.
_CLASSES: Final = {
    **{letter: _members(ranges) for letter, ranges in _RANGES.items()},
    **{letter.upper(): _members(_complement(ranges)) for letter, ranges in _RANGES.items()},
}
# Escapes valid with the u flag besides syntax characters; the rest are refused by the browser.
_ESCAPES: Final = frozenset("dDwWsSfnrtv0cxupP123456789")
_SYNTAX: Final = frozenset("^$\\.*+?()[]{}|/")
_QUANTIFIER: Final = re.compile(r"\{[0-9]+(?:,[0-9]*)?\}")
_GROUP_OPENINGS: Final = ("(?:", "(?=", "(?!", "(?<=", "(?<!")
_GROUP_NAME: Final = re.compile(r"\(\?<[A-Za-z_$][A-Za-z0-9_$]*>")
# Backreferences by name and escaped UTF-16 surrogates are valid in a browser, but the server's
# engine cannot run them; both sides refuse them (packages/form-engine/src/schema.ts).
_UNSUPPORTED: Final = re.compile(r"\\k|\\u[dD][89abAB]")

# The names ECMAScript takes in \p{...} (General_Category values and binary properties), less the
# few the server's engine lacks (Surrogate, Changes_When_NFKC_Casefolded: refused on both sides); the
# server's engine would also take script names without "Script=" and names in any case.
_CATEGORIES: Final = frozenset(
    {
        "C", "Other", "Cc", "Control", "cntrl", "Cf", "Format", "Cn", "Unassigned", "Co", "Private_Use", "Cs", "L",
        "Letter", "LC", "Cased_Letter", "Ll", "Lowercase_Letter", "Lm", "Modifier_Letter", "Lo", "Other_Letter",
        "Lt", "Titlecase_Letter", "Lu", "Uppercase_Letter", "M", "Mark", "Combining_Mark", "Mc", "Spacing_Mark",
        "Me", "Enclosing_Mark", "Mn", "Nonspacing_Mark", "N", "Number", "Nd", "Decimal_Number", "digit", "Nl",
        "Letter_Number", "No", "Other_Number", "P", "Punctuation", "punct", "Pc", "Connector_Punctuation", "Pd",
        "Dash_Punctuation", "Pe", "Close_Punctuation", "Pf", "Final_Punctuation", "Pi", "Initial_Punctuation", "Po",
        "Other_Punctuation", "Ps", "Open_Punctuation", "S", "Symbol", "Sc", "Currency_Symbol", "Sk",
        "Modifier_Symbol", "Sm", "Math_Symbol", "So", "Other_Symbol", "Z", "Separator", "Zl", "Line_Separator",
        "Zp", "Paragraph_Separator", "Zs", "Space_Separator",
    }
)  # fmt: skip
_BINARY_PROPERTIES: Final = frozenset(
    {
        "ASCII", "ASCII_Hex_Digit", "AHex", "Alphabetic", "Alpha", "Any", "Assigned", "Bidi_Control", "Bidi_C",
        "Bidi_Mirrored", "Bidi_M", "Case_Ignorable", "CI", "Cased", "Changes_When_Casefolded", "CWCF",
        "Changes_When_Casemapped", "CWCM", "Changes_When_Lowercased", "CWL", "Changes_When_Titlecased", "CWT",
        "Changes_When_Uppercased", "CWU", "Dash", "Default_Ignorable_Code_Point", "DI", "Deprecated", "Dep",
        "Diacritic", "Dia", "Emoji", "Emoji_Component", "EComp", "Emoji_Modifier", "EMod", "Emoji_Modifier_Base",
        "EBase", "Emoji_Presentation", "EPres", "Extended_Pictographic", "ExtPict", "Extender", "Ext",
        "Grapheme_Base", "Gr_Base", "Grapheme_Extend", "Gr_Ext", "Hex_Digit", "Hex", "IDS_Binary_Operator", "IDSB",
        "IDS_Trinary_Operator", "IDST", "ID_Continue", "IDC", "ID_Start", "IDS", "Ideographic", "Ideo",
        "Join_Control", "Join_C", "Logical_Order_Exception", "LOE", "Lowercase", "Lower", "Math",
        "Noncharacter_Code_Point", "NChar", "Pattern_Syntax", "Pat_Syn", "Pattern_White_Space", "Pat_WS",
        "Quotation_Mark", "QMark", "Radical", "Regional_Indicator", "RI", "Sentence_Terminal", "STerm",
        "Soft_Dotted", "SD", "Terminal_Punctuation", "Term", "Unified_Ideograph", "UIdeo", "Uppercase", "Upper",
        "Variation_Selector", "VS", "White_Space", "space", "XID_Continue", "XIDC", "XID_Start", "XIDS",
    }
)  # fmt: skip
_PROPERTY_KEYS: Final = frozenset({"General_Category", "gc", "Script", "sc", "Script_Extensions", "scx"})
_SCRIPT: Final = re.compile(r"[A-Z][A-Za-z]*(?:_[A-Z][A-Za-z]*)*")


class _Refused(Exception):
    """The pattern is not one both engines run alike."""


def ecma_pattern(pattern: str) -> str | None:
    """``pattern`` rewritten for the server's engine, or None if it is to be refused."""
    try:
        return "".join(_translate(pattern))
    except _Refused:
        return None


def _translate(pattern: str) -> list[str]:
    out: list[str] = []
    i, in_class, can_repeat = 0, False, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            can_repeat = in_class or pattern[i + 1 : i + 2] not in ("b", "B")  # an assertion is not repeated
            text, i = _escape(pattern, i, in_class)
            out.append(text)
            continue
        if in_class:
            in_class = char != "]"
            can_repeat = not in_class
            out.append("\\[" if char == "[" else char)  # a "[" inside a class is a literal in ECMAScript
            i += 1
            continue
        text, i, can_repeat, in_class = _outside_class(pattern, i, can_repeat)
        out.append(text)
    if in_class:
        raise _Refused
    return out


def _escape(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    """One escape at ``i``: its rewriting and where the pattern goes on."""
    if _UNSUPPORTED.match(pattern, i):
        raise _Refused
    following = pattern[i + 1 : i + 2]
    if following == "b":
        return ("\\x08" if in_class else _BOUNDARY), i + 2
    if following == "B" and not in_class:
        return _NOT_BOUNDARY, i + 2
    if following in _CLASSES:
        return _class_escape(pattern, i, in_class), i + 2
    if following == "0" and not pattern[i + 2 : i + 3].isdigit():
        return "\\x00", i + 2
    if following in ("p", "P", "u") and pattern[i + 2 : i + 3] == "{":
        end = pattern.find("}", i)
        if end < 0 or (following != "u" and not _is_property(pattern[i + 3 : end])):
            raise _Refused
        return pattern[i : end + 1], end + 1
    if following in _ESCAPES or following in _SYNTAX or (in_class and following == "-"):
        return pattern[i : i + 2], i + 2
    raise _Refused


def _class_escape(pattern: str, i: int, in_class: bool) -> str:
    """``\\d``, ``\\w``, ``\\s`` or a negation at ``i``, as ECMAScript means it."""
    members = _CLASSES[pattern[i + 1]]
    if not in_class:
        return f"[{members}]"
    after_range = (
        pattern[i - 1 : i] == "-" and pattern[i - 2 : i - 1] not in ("[", "") and pattern[i - 3 : i - 1] != "[^"
    )
    if after_range or (pattern[i + 2 : i + 3] == "-" and pattern[i + 3 : i + 4] not in ("]", "")):
        raise _Refused  # a class as a range's end is a syntax error with the u flag
    return members


def _is_property(name: str) -> bool:
    """Whether ``name`` is one ECMAScript takes in ``\\p{...}``, spelled exactly."""
    key, equals, value = name.partition("=")
    if not equals:
        return name in _CATEGORIES or name in _BINARY_PROPERTIES
    if key in ("General_Category", "gc"):
        return value in _CATEGORIES
    return key in _PROPERTY_KEYS and _SCRIPT.fullmatch(value) is not None


def _outside_class(pattern: str, i: int, can_repeat: bool) -> tuple[str, int, bool, bool]:
    """One token outside a class: (rewriting, next index, whether a quantifier may follow, class opened)."""
    char = pattern[i]
    if char in "*+?{":
        if char == "{":
            quantifier = _QUANTIFIER.match(pattern, i)
            if quantifier is None:
                raise _Refused  # a lone "{" is a syntax error with the u flag
            text, end = quantifier.group(), quantifier.end()
        else:
            text, end = char, i + 1
        if not can_repeat:
            raise _Refused  # nothing to repeat, or a possessive quantifier
        if pattern[end : end + 1] == "?":
            text, end = text + "?", end + 1
        return text, end, False, False
    if char in "]}":
        raise _Refused
    if char == "(":
        opening = next((o for o in _GROUP_OPENINGS if pattern.startswith(o, i)), None)
        if opening is None and pattern.startswith("(?", i):
            name = _GROUP_NAME.match(pattern, i)
            if name is None:
                raise _Refused  # inline flags and other extensions
            opening = name.group()
        opening = opening or "("
        return opening, i + len(opening), False, False
    if char == ".":
        return _ANY, i + 1, True, False
    if char == "[":
        for empty, meaning in (("[]", "[^\\s\\S]"), ("[^]", "[\\s\\S]")):
            if pattern.startswith(empty, i):  # a "]" right after "[" or "[^" closes the class in ECMAScript
                return meaning, i + len(empty), True, False
        return char, i + 1, False, True
    return char, i + 1, char not in "|^$", False
