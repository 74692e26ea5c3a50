"""vCard 3.0 text: escaping (RFC 6350 §3.4), folding at 75 octets, the download file name."""

from __future__ import annotations

from qrstream.cards.offline import QR_CAPACITY_M, offline_vcard
from qrstream.cards.vcard import Contact, ascii_filename, content_disposition, escape, fold, render
from tests.cardkit import components, parse, unescape


def physical_lines(text: str) -> list[bytes]:
    raw = text.encode("utf-8")
    assert raw.endswith(b"\r\n")
    return raw[:-2].split(b"\r\n")


def assert_well_folded(text: str) -> None:
    for line in physical_lines(text):
        assert len(line) <= 75, line
        line.decode("utf-8")  # strict: no UTF-8 sequence was cut in two
        assert b"\r" not in line and b"\n" not in line


def test_escape_specials() -> None:
    """Backslash, comma, semicolon and every kind of line break are escaped."""
    assert escape("a\\b,c;d\ne\r\nf\rg") == "a\\\\b\\,c\\;d\\ne\\nf\\ng"


def test_render_round_trips_special_characters() -> None:
    """Commas, semicolons, newlines and backslashes survive a render and parse."""
    contact = Contact(
        name="Doe, Jane; PhD",
        title="Head of R&D; Europe",
        company="Acme, Inc.",
        email="jane@example.com",
        phone="+44 20 7946 0000",
        website="https://example.com/a,b;c",
        note="line one\nline two, with comma; and semicolon \\ backslash",
    )
    text = render(contact)
    assert_well_folded(text)
    props = parse(text)
    assert unescape(props["FN"]) == contact.name
    assert unescape(props["ORG"]) == contact.company
    assert unescape(props["TITLE"]) == contact.title
    assert unescape(props["EMAIL"]) == contact.email
    assert unescape(props["TEL"]) == contact.phone
    assert unescape(props["URL"]) == contact.website
    assert unescape(props["NOTE"]) == contact.note
    assert components(props["N"]) == ["PhD", "Doe, Jane;", "", "", ""]


def test_render_lines_and_order() -> None:
    """CRLF line ends, BEGIN/VERSION first, END last, empty fields left out."""
    text = render(Contact(name="Ada Lovelace", email="ada@example.com"))
    assert text == (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lovelace;Ada;;;\r\nFN:Ada Lovelace\r\n"
        "EMAIL;TYPE=INTERNET:ada@example.com\r\nEND:VCARD\r\n"
    )


def test_non_ascii_name_round_trips() -> None:
    """A name outside ASCII is kept exactly, split into family and given names."""
    name = "Zoë Ångström-Łukasz"
    props = parse(render(Contact(name=name)))
    assert unescape(props["FN"]) == name
    assert props["N"] == "Ångström-Łukasz;Zoë;;;"


def test_long_note_is_folded_and_round_trips() -> None:
    """A 300-character note is folded at 75 octets and reads back unchanged."""
    note = ("Ünïcödé, ✓; \\ " * 30)[:300]
    assert len(note) == 300
    text = render(Contact(name="Zoë Ångström-Łukasz", note=note))
    assert_well_folded(text)
    assert len(physical_lines(text)) > 6
    assert unescape(parse(text)["NOTE"]) == note


def test_fold_never_splits_a_multibyte_character() -> None:
    """Lines of 2-, 3- and 4-byte characters fold between characters, at most 75 octets each."""
    for char in ("é", "✓", "😀"):
        line = "NOTE:" + char * 100
        folded = fold(line)
        assert_well_folded(folded + "\r\n")
        assert folded.replace("\r\n ", "") == line
        first = folded.split("\r\n")[0].encode()
        assert len(first) > 75 - len(char.encode())


def test_fold_keeps_escape_pairs_together() -> None:
    """A fold never falls between a backslash and the character it escapes."""
    line = "NOTE:" + escape(",;\\" * 60)
    physical = fold(line).split("\r\n")
    assert len(physical) > 2
    for piece in physical:
        trailing = len(piece) - len(piece.rstrip("\\"))
        assert trailing % 2 == 0, piece


def test_short_line_is_not_folded() -> None:
    """A line of exactly 75 octets stays one line."""
    line = "NOTE:" + "x" * 70
    assert fold(line) == line


def test_content_disposition_ascii_name() -> None:
    """A plain ASCII name gives just filename="<name>.vcf"."""
    assert content_disposition("Ada Lovelace") == 'attachment; filename="Ada Lovelace.vcf"'


def test_content_disposition_non_ascii_name() -> None:
    """A non-ASCII name gives an ASCII fallback and the exact UTF-8 name in filename*."""
    header = content_disposition("Zoë Ångström-Łukasz")
    assert header == (
        "attachment; filename=\"Zoe Angstrom-_ukasz.vcf\"; filename*=UTF-8''"
        "Zo%C3%AB%20%C3%85ngstr%C3%B6m-%C5%81ukasz.vcf"
    )
    header.encode("ascii")


def test_ascii_filename_drops_quotes_and_slashes() -> None:
    """Quotes, slashes and control characters never reach the header's file name."""
    assert ascii_filename('a"b/c\\d') == "a_b_c_d"
    assert ascii_filename("日本") == "card"


def test_offline_vcard_drops_the_note_when_too_big() -> None:
    """A vCard too big for one QR code loses its note first, and always fits."""
    big = Contact(name="Zoë " * 50, title="t" * 200, company="c" * 200, website="https://x.org/" + "p" * 480)
    with_note = Contact(**{**big.__dict__, "note": "😀" * 1000})
    text = offline_vcard(with_note)
    assert len(text.encode()) <= QR_CAPACITY_M
    assert "NOTE" not in text and "TITLE" in text
    worst = Contact(name=",😀" * 100, email="a" * 240 + "@example.com", phone="1" * 64, title="😀" * 200)
    worst = Contact(**{**worst.__dict__, "company": "😀" * 200, "note": "x"})
    text = offline_vcard(worst)
    assert len(text.encode()) <= QR_CAPACITY_M
    assert unescape(parse(text)["FN"]) == worst.name
