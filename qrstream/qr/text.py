"""Terminal text from QR matrices: Unicode half blocks, two module rows a line, the border included.

As in segno's compact terminal output, qrencode's UTF8 and qrcode-terminal, the blocks
are the *light* modules: on the usual light-on-dark terminal the code then shows dark
on light, the way cameras read it. An odd last row gets an empty lower half.
"""

from __future__ import annotations

from collections.abc import Sequence

# (top light, bottom light) -> the character that shows it
_HALF_BLOCKS = {(True, True): "\u2588", (True, False): "\u2580", (False, True): "\u2584", (False, False): " "}


def matrix_to_text(matrix: Sequence[Sequence[int]]) -> str:
    """The matrix in half blocks (light modules drawn), two rows a line, each line ending in a newline."""
    lines = []
    for top in range(0, len(matrix), 2):
        upper = matrix[top]
        lower = matrix[top + 1] if top + 1 < len(matrix) else [1] * len(upper)
        lines.append("".join(_HALF_BLOCKS[not a, not b] for a, b in zip(upper, lower, strict=True)))
    return "\n".join(lines) + "\n"
