"""The fast encoder makes exactly segno's symbols, and every frame still decodes."""

from __future__ import annotations

import random
import string

import pytest
import segno

from qrstream.qr.encode import encode
from qrstream.qr.render import QrSpec, draw
from tests.qrdecode import decode_png

ALPHABETS = [
    string.digits,
    string.ascii_uppercase + string.digits + " $%*+-./:",
    string.printable,
    "héllo wörld ✓ ",
    "日本語のテキスト",
]


def _segno_rows(data: str, error: str) -> tuple[bytes, ...]:
    code = segno.make(data, error=error, boost_error=False, micro=False)
    return tuple(bytes(row) for row in code.matrix)


@pytest.mark.parametrize("error", ["l", "m", "q", "h"])
def test_symbols_match_segno_for_every_mode_and_many_versions(error: str) -> None:
    """Same version, same mask, same modules as segno.make(boost_error=False), across modes and sizes."""
    rng = random.Random(error)
    lengths = [*range(1, 90, 3), 150, 300, 700, 1200]
    for length in lengths:
        for alphabet in ALPHABETS:
            data = "".join(rng.choices(alphabet, k=length))
            try:
                expected = _segno_rows(data, error)
            except segno.DataOverflowError:
                continue
            assert encode(data, error).rows == expected, (length, alphabet[:5])


def test_pairing_style_urls_match_segno() -> None:
    """The frames the server renders most (70-character pairing URLs) match segno exactly."""
    rng = random.Random(7)
    for _ in range(300):
        data = "http://qr.example.com/link/" + "".join(rng.choices(string.ascii_letters + "-_", k=43))
        assert encode(data, "m").rows == _segno_rows(data, "m")


def test_rendered_frames_decode_at_level_m_and_400px() -> None:
    """Frames from draw() decode with zxing-cpp to their text, EC level M, 400x400."""
    rng = random.Random(11)
    for _ in range(40):
        data = "http://qr.test/link/" + "".join(rng.choices(string.ascii_letters + string.digits, k=43))
        decoded = decode_png(draw(QrSpec(data)))
        assert (decoded.text, decoded.ec_level, decoded.size) == (data, "M", (400, 400))
