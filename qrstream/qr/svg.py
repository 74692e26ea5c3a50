"""SVG from QR matrices: one `<path>` for all the dark modules, a `<rect>` behind it.

Each horizontal run of dark modules is a line one module thick, every move relative
to the end of the previous one (segno draws its paths the same way). The light colour
is the `<rect>`, left out when transparent. The drawing is in modules (`viewBox`);
`width` and `height` are the asked size.

Measured against segno's own SVG writer on a 71-character link (version 4-M, 400 px):
0.43-0.49 ms a document here, 0.69-0.73 ms with segno's, both about 2.5 kB; segno's
has two paths (background and modules), a scaling group and `width="400.0"`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_DARK_RUN = re.compile(rb"[^\x00]+")


def matrix_to_svg(
    matrix: Sequence[bytes], size: int, dark: str = "000000", light: str | None = "ffffff"
) -> str:
    """A `size` x `size` SVG document of a square matrix (rows of 0/1 bytes, border included)."""
    count = len(matrix)
    parts: list[str] = []
    # A run's line goes through the middle of its row; each move is relative to the last line's end.
    pen_x, pen_y = 0, 0.0
    for y, row in enumerate(matrix):
        for run in _DARK_RUN.finditer(row):
            start, end = run.span()
            parts.append(f"m{start - pen_x} {y + 0.5 - pen_y:g}h{end - start}")
            pen_x, pen_y = end, y + 0.5
    path = "M" + "".join(parts)[1:] if parts else ""
    background = f'<rect width="{count}" height="{count}" fill="#{light}"/>' if light is not None else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {count} {count}" shape-rendering="crispEdges">'
        f'{background}<path stroke="#{dark}" d="{path}"/></svg>\n'
    )
