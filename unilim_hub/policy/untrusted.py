"""Text that people typed, made safe to put in a log line or a message."""

from __future__ import annotations

# Long enough for any slug or name we accept, short enough that a log line stays a line.
SHOWN_LENGTH = 64


def shown(value: object, limit: int = SHOWN_LENGTH) -> str:
    """``value`` on one line, every control or invisible character escaped (``\\n``,
    ``\\x1b``, ``\\u2028``), cut to ``limit`` characters with a final ``…``.

    A newline in a requested profile name must not start a forged line in the hub log,
    and a megabyte of it must not fill the log.
    """
    text = value if isinstance(value, str) else repr(value)
    if len(text) > 4 * limit:  # escape only what can be shown
        text = text[: 4 * limit]
    escaped = "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"
