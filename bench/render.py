"""Render benchmark: distinct 400x400 QR PNG frames per second per core.

qrstream's `draw` (PNG) against python-qrcode + Pillow doing the same job (EC level M,
2-module border, a 400x400 PNG) and against zxing-cpp's C++ encode step as the floor.
Contenders run interleaved, each round on fresh distinct payloads; the figure is the
median over rounds of frames per CPU-second of this process (so other load on the
machine matters less than wall time would). Every qrstream frame of the first round
is decoded with zxing-cpp and its text, EC level and size are checked.

    .venv/bin/python bench/render.py [--frames 300] [--rounds 7]
"""

from __future__ import annotations

import argparse
import io
import random
import string
import time
from collections.abc import Callable

import qrcode
import zxingcpp
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M
from stats import median, ratio, table

from qrstream.qr.render import QrSpec, draw

SIZE = 400
PREFIX = "http://qr.example.com/link/"
Renderer = Callable[[str], object]


def payloads(count: int, rng: random.Random) -> list[str]:
    """Distinct pairing-style URLs (~70 characters, like a real frame)."""
    alphabet = string.ascii_letters + string.digits + "-_"
    return [PREFIX + "".join(rng.choices(alphabet, k=43)) for _ in range(count)]


def qrstream_frame(data: str) -> bytes:
    return draw(QrSpec(data, size=SIZE, error="m", border=2))


def python_qrcode_frame(data: str) -> bytes:
    """The same job with python-qrcode + Pillow: EC M, border 2, exactly 400x400, PNG."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=2, box_size=10)
    qr.add_data(data)
    qr.make(fit=True)
    image = qr.make_image().get_image().resize((SIZE, SIZE), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def zxing_encode(data: str) -> object:
    """The C++ encoder's encode step only (no image): the floor."""
    return zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.QRCode, ec_level="M")


CONTENDERS: dict[str, Renderer] = {
    "qrstream render_png": qrstream_frame,
    "python-qrcode + Pillow": python_qrcode_frame,
    "zxing-cpp create_barcode (floor)": zxing_encode,
}


def frames_per_cpu_second(render: Renderer, batch: list[str]) -> float:
    start = time.process_time()
    for data in batch:
        render(data)
    return len(batch) / (time.process_time() - start)


def check_frames(batch: list[str]) -> None:
    """Every frame decodes with zxing-cpp to its text, at EC level M, 400x400."""
    for data in batch:
        image = Image.open(io.BytesIO(qrstream_frame(data)))
        image.load()
        found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
        if len(found) != 1 or found[0].text != data or found[0].ec_level != "M" or image.size != (SIZE, SIZE):
            raise SystemExit(f"frame for {data!r} does not decode as expected: {found}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="distinct frames per contender per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(7)
    for render in CONTENDERS.values():  # warm imports and caches
        render(PREFIX + "warm-up")
    results: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    for n in range(args.rounds):
        batch = payloads(args.frames, rng)
        if n == 0:
            check_frames(batch)
            print(f"checked: {len(batch)} qrstream frames decode with zxing-cpp (text, EC M, 400x400)")
        for name, render in CONTENDERS.items():
            results[name].append(frames_per_cpu_second(render, batch))
    ours = median(results["qrstream render_png"])
    baseline = median(results["python-qrcode + Pillow"])
    rows = []
    for name, values in results.items():
        fps = median(values)
        rows.append([name, fps, 1000.0 / fps, ratio(fps, baseline), min(values), max(values)])
    print(f"\n{args.rounds} rounds x {args.frames} distinct ~{len(PREFIX) + 43}-char URLs, 400x400 PNG, EC M")
    print(table(["renderer", "frames/s/core", "ms/frame", "x python-qrcode", "min", "max"], rows))
    target = 1.5
    verdict = "met" if ours >= target * baseline else "NOT met"
    print(f"\ntarget: qrstream >= {target}x python-qrcode + Pillow: {ratio(ours, baseline):.2f}x, {verdict}")


if __name__ == "__main__":
    main()
