"""QR encoding by segno's rules, several times faster: the symbols are identical.

segno spends ~85 % of an encode on the automatic mask search, in per-module Python
loops (8 masks x every module x 4 penalty rules). Here what depends only on the
version (function patterns, where each codeword bit goes, the eight mask patterns)
is computed once per version. A symbol is then one C-level gather of its bits into
place, read as one big int with a bit per module (rows, and separately columns,
each followed by light padding), and each mask is an XOR scored with a few shifts,
ANDs and popcounts. The penalty rules are segno's, including its reading of rule 3
(outside the symbol counts as light; after a hit the search resumes past it), so
the chosen mask, and so the symbol, is the one `segno.make(..., boost_error=False)`
makes; the tests compare both on many payloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, zip_longest
from operator import itemgetter
from typing import Any

from segno import consts as _consts
from segno import encoder as _encoder

# segno has no type hints: its encoder steps and tables are used as untyped values.
se: Any = _encoder
consts: Any = _consts

_PAD = 4  # light cells after each row: runs and patterns stay inside a row, outside reads light
_TO_BITS = bytes.maketrans(b"01", b"\x00\x01")
_FROM_BITS = bytes.maketrans(b"\x00\x01", b"01")


@dataclass(frozen=True)
class Layout:
    """Where everything goes in a symbol of one version, as rows (or columns) padded to `stride`.

    Cell k (row k // stride, column k % stride) is bit `size - 1 - k` of an int, so
    `x >> 1` moves each cell onto its right neighbour and `x >> stride` onto the cell below.
    """

    width: int
    stride: int
    size: int
    gather: itemgetter[tuple[int, ...]]  # (bits + template) -> padded cells
    masks: tuple[int, ...]  # per mask pattern, the data modules it flips
    real: int  # every module (not padding)
    pairs: int  # modules with a left neighbour in the row, for rule 1
    blocks: int  # modules that can end a 2x2 block, for rule 2


@dataclass(frozen=True)
class Symbol:
    """An encoded symbol: rows of 0/1 bytes without border."""

    rows: tuple[bytes, ...]
    version: int
    mask: int


def encode(data: str, error: str = "m") -> Symbol:
    """Encode `data` at exactly this error level (no boost), the smallest version that fits."""
    level = se.normalize_errorlevel(error)
    segments = _segments(data)
    version = se.find_version(segments, level, eci=False, micro=False)
    bits = _codeword_bits(segments, version, level)
    rows, cols = _layouts(version)
    row_template, col_template = _templates(version)
    x_rows = int(bytes(rows.gather(bits + row_template)), 2)
    x_cols = int(bytes(cols.gather(bits + col_template)), 2)
    mask = _best_mask(x_rows, x_cols, rows, cols)
    cells = format(x_rows ^ rows.masks[mask], f"0{rows.size}b").encode("ascii").translate(_TO_BITS)
    width, stride = rows.width, rows.stride
    matrix = tuple(bytearray(cells[i * stride : i * stride + width]) for i in range(width))
    se.add_format_info(matrix, version, level, mask)
    se.add_version_info(matrix, version)
    return Symbol(tuple(bytes(row) for row in matrix), version, mask)


def _segments(data: str) -> Any:
    """segno's segments for `data`; the usual byte mode without segno's per-byte bit loop."""
    raw, length, encoding = se.data_to_bytes(data, None)
    if not raw or se.find_mode(raw) != consts.MODE_BYTE:
        return se.prepare_data(data, None, None)
    bits = format(int.from_bytes(raw, "big"), f"0{8 * length}b").encode("ascii").translate(_TO_BITS)
    segments = se.Segments()
    segments.add_segment(se._Segment(bytearray(bits), length, consts.MODE_BYTE, encoding))
    return segments


def _codeword_bits(segments: Any, version: int, level: int) -> bytes:
    """The final message (data and error codewords interleaved, remainder bits) as ASCII 0/1."""
    buff = se.Buffer()
    ver_range = se.version_range(version)
    for segment in segments:
        se.write_segment(buff, segment, None, ver_range, False)
    capacity = consts.SYMBOL_CAPACITY[version][level]
    se.write_terminator(buff, capacity, None, len(buff))
    se.write_padding_bits(buff, version, len(buff))
    se.write_pad_codewords(buff, version, capacity, len(buff))
    raw = bytes(buff.getbits())
    data = int(raw.translate(_FROM_BITS), 2).to_bytes(len(raw) // 8, "big")
    data_blocks: list[bytes] = []
    error_blocks: list[bytes] = []
    start = 0
    for info in consts.ECC[version][level]:
        for _ in range(info.num_blocks):
            block = data[start : start + info.num_data]
            start += info.num_data
            data_blocks.append(block)
            error_blocks.append(_error_words(block, info.num_total - info.num_data))
    message = bytes(_interleave(data_blocks) + _interleave(error_blocks))
    bits = format(int.from_bytes(message, "big"), f"0{8 * len(message)}b").encode("ascii")
    return bits + b"0" * _remainder_bits(version)


def _interleave(blocks: list[bytes]) -> list[int]:
    return [x for x in chain.from_iterable(zip_longest(*blocks)) if x is not None]


def _error_words(block: bytes, count: int) -> bytes:
    """Reed-Solomon error words: block(x) * x^count mod the generator, as a shift register."""
    table = _generator_multiples(count)
    top = 8 * (count - 1)
    keep = (1 << top) - 1
    register = 0
    for byte in block:
        register = ((register & keep) << 8) ^ table[byte ^ (register >> top)]
    return register.to_bytes(count, "big")


@lru_cache(maxsize=32)
def _generator_multiples(count: int) -> tuple[int, ...]:
    """For each coefficient c, c times the generator polynomial (its leading 1 left out)."""
    log, exp, gen = consts.GALIOS_LOG, consts.GALIOS_EXP, consts.GEN_POLY[count]
    return (0, *(int.from_bytes(bytes(exp[log[c] + g] for g in gen), "big") for c in range(1, 256)))


def _remainder_bits(version: int) -> int:
    if 2 <= version <= 6:
        return 7
    if 14 <= version <= 20 or 28 <= version <= 34:
        return 3
    if 21 <= version <= 27:
        return 4
    return 0


def _best_mask(x_rows: int, x_cols: int, rows: Layout, cols: Layout) -> int:
    """segno's choice: the mask with the lowest penalty, the first of equals."""
    best_score, best_mask = -1, 0
    total = rows.width * rows.width
    for mask in range(8):
        r = x_rows ^ rows.masks[mask]
        c = x_cols ^ cols.masks[mask]
        score = _runs(r, rows) + _runs(c, cols) + _blocks(r, rows)
        score += 40 * (_finder_like(r, rows) + _finder_like(c, cols))
        percent = float(r.bit_count()) / total
        score += 10 * int(abs(percent * 100 - 50) / 5)
        if best_score < 0 or score < best_score:
            best_score, best_mask = score, mask
    return best_mask


def _runs(x: int, layout: Layout) -> int:
    """Rule 1: a run of 5 + i modules of one colour in a row scores 3 + i.

    `same` marks modules equal to their left neighbour; a run of n modules is n - 1 of
    them in a row, and `four` (four `same` in a row) has n - 4 ones for it, so the score
    is the ones of `four` plus 2 for every run of them.
    """
    same = layout.pairs & ~(x ^ (x >> 1))
    four = same & (same >> 1) & (same >> 2) & (same >> 3)
    return four.bit_count() + 2 * (four & ~(four >> 1)).bit_count()


def _blocks(x: int, layout: Layout) -> int:
    """Rule 2: every 2x2 block of one colour scores 3."""
    horizontal = x ^ (x >> 1)
    down = layout.stride
    return 3 * (layout.blocks & ~(horizontal | (horizontal >> down) | (x ^ (x >> down)))).bit_count()


def _finder_like(x: int, layout: Layout) -> int:
    """Rule 3 as segno reads it: 1011101 with four light modules before or after it.

    segno scans each row left to right and, after a hit, resumes 7 modules on (past
    it), after a miss 4 on; so a pattern starting 4 or 6 modules after a counted hit
    is not looked at. `active` settles that rule along such chains (they are short).
    """
    dark, light = x, layout.real & ~x
    starts = dark & (light << 1) & (dark << 2) & (dark << 3) & (dark << 4) & (light << 5) & (dark << 6)
    if not starts:
        return 0
    dark_before = (dark >> 1) | (dark >> 2) | (dark >> 3) | (dark >> 4)
    dark_after = (dark << 7) | (dark << 8) | (dark << 9) | (dark << 10)
    hits = starts & ~(dark_before & dark_after)
    active = starts
    while True:
        counted = active & hits
        settled = starts & ~((counted >> 4) | (counted >> 6))
        if settled == active:
            return counted.bit_count()
        active = settled


@lru_cache(maxsize=64)
def _templates(version: int) -> tuple[bytes, bytes]:
    """The function patterns (finders, timing, alignment; reserved areas light) as ASCII 0/1,
    rows and columns, padded."""
    matrix = _function_matrix(version)
    width = len(matrix)
    pad = b"0" * _PAD
    rows = b"".join(bytes(48 + (v & 1) for v in row) + pad for row in matrix)
    cols = b"".join(bytes(48 + (matrix[i][j] & 1) for i in range(width)) + pad for j in range(width))
    return rows, cols


def _function_matrix(version: int) -> tuple[bytearray, ...]:
    """segno's matrix before the codewords: 0/1 for function modules, 2 for free ones."""
    width = se.calc_matrix_size(version)
    matrix = se.make_matrix(width, width)
    se.add_finder_patterns(matrix, width, width)
    se.add_alignment_patterns(matrix, width, width)
    return tuple(matrix)


def _placement(version: int) -> list[tuple[int, int]]:
    """Where codeword bit k goes, in segno's `add_codewords` order: every free module."""
    matrix = _function_matrix(version)
    size = len(matrix)
    order: list[tuple[int, int]] = []
    for column in range(size - 1, 0, -2):
        right = column - 1 if column <= 6 else column
        for vertical in range(size):
            for z in range(2):
                j = right - z
                upwards = ((right & 2) == 0) ^ (j < 6)
                i = (size - 1 - vertical) if upwards else vertical
                if matrix[i][j] == 0x2:
                    matrix[i][j] = 0x3
                    order.append((i, j))
    return order


def _bits_int(cells: bytearray) -> int:
    return int(cells.translate(_FROM_BITS), 2)


@lru_cache(maxsize=64)
def _layouts(version: int) -> tuple[Layout, Layout]:
    """The row layout and the column layout of a version."""
    order = _placement(version)
    width = se.calc_matrix_size(version)
    stride = width + _PAD
    size = width * stride
    nbits = len(order)
    functions = se.get_data_mask_functions(False)
    pairs = bytearray(size)
    real = bytearray(size)
    for a in range(width):
        pairs[a * stride + 1 : a * stride + width] = b"\x01" * (width - 1)
        real[a * stride : a * stride + width] = b"\x01" * width
    blocks = bytes(stride) + pairs[stride:]

    def layout(transposed: bool) -> Layout:
        where = {((j, i) if transposed else (i, j)): k for k, (i, j) in enumerate(order)}
        gather: list[int] = []
        masks = [bytearray(size) for _ in functions]
        for cell in range(size):
            a, b = divmod(cell, stride)
            k = where.get((a, b))
            gather.append(nbits + cell if k is None else k)
            if k is not None:
                i, j = (b, a) if transposed else (a, b)
                for mask, fn in zip(masks, functions, strict=True):
                    mask[cell] = 1 if fn(i, j) else 0
        return Layout(
            width=width,
            stride=stride,
            size=size,
            gather=itemgetter(*gather),
            masks=tuple(_bits_int(m) for m in masks),
            real=_bits_int(real),
            pairs=_bits_int(pairs),
            blocks=_bits_int(bytearray(blocks)),
        )

    return layout(False), layout(True)
