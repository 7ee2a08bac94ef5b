"""Host strings made safe to show: characters a format or a terminal cannot take become visible escapes."""

from __future__ import annotations

import re
from typing import Any

# One set for every format. XML 1.0 cannot carry C0 controls or lone surrogates at all, not even as
# &#NN; references (the Char production), so one from a host file would make the whole report
# unreadable. CR, DEL and the C1 block are legal XML but are escaped too, because every format may be
# printed on a terminal: ESC and the C1 CSI (U+009B) start escape sequences that recolour or rewrite
# the screen, CR returns to the start of the line. GitHub workflow commands and Markdown take the same
# set: a NUL would become U+FFFD in the viewer, and a surrogate cannot be written to a UTF-8 file.
_UNSAFE = re.compile("[^\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        code -= 0xDC00
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def xml_text(value: Any) -> str:
    """``value`` as text XML can hold: characters it forbids become visible \\xNN escapes."""
    return _UNSAFE.sub(_visible, str(value))


def terminal_text(value: Any) -> str:
    """``value`` as text safe to print on a terminal: control characters become visible escapes."""
    return _UNSAFE.sub(_visible, str(value))
