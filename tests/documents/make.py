"""Writes the document fixtures the format tests read. Run by hand when a fixture
must change (`python3 tests/documents/make.py`); the outputs are committed, so the
test run needs none of these tools.

Tools, all from the registries: Chromium (Debian) prints HTML to PDF, with its own
running header (date, title) and footer (URL, "3/18") on the long report;
python-docx and odfpy (PyPI) write the Word and OpenDocument files; pypdf (PyPI)
encrypts a copy. The text is ours, written for these tests.

Two files are real ones from a package: `pypdf-pdflatex-outline.pdf` (pdfLaTeX, four
pages) and `pypdf-libreoffice-writer-password.pdf` (encrypted by LibreOffice
Writer) come unchanged from `resources/` in the PyPI sdist pypdf==5.1.0, under
pypdf's BSD licence (LICENSE-pypdf):
    pip download --no-deps --no-binary :all: pypdf==5.1.0
"""

import base64
import os
import subprocess
import sys
import tempfile
import zlib
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.environ.get("FIXTURE_TOOLS", "/tmp/fixture-tools")
sys.path.insert(0, TOOLS)

from docx import Document  # noqa: E402
from docx.shared import Pt  # noqa: E402
import pypdf  # noqa: E402
from odf.opendocument import OpenDocumentText  # noqa: E402
from odf import text as odf_text, table as odf_table, dc, meta  # noqa: E402


def print_pdf(html, name, header_footer):
    with tempfile.TemporaryDirectory() as tmp:
        page = os.path.join(tmp, "page.html")
        with open(page, "w") as f:
            f.write(html)
        args = ["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                f"--print-to-pdf={os.path.join(HERE, name)}"]
        if not header_footer:
            args.append("--no-pdf-header-footer")
        subprocess.run(args + [f"file://{page}"], check=True, capture_output=True)


LEFT = [
    "The Larkspur Valley survey began in the spring of 1911, when three surveyors walked the length "
    "of the river with chains and a theodolite.",
    "They mapped every ford and every mill race, and they named the northern pass after the cook "
    "who first crossed it with a mule and two sacks of flour.",
    "Their field books, kept in the county archive, record a flood in the second week of June that "
    "carried away the footbridge below the church.",
]
RIGHT = [
    "The Larkspur railway opened in 1923 and ran for forty-one years until the last goods train "
    "left the valley in the autumn of 1964.",
    "Its single track climbed the northern pass through eleven tunnels, the longest of which was "
    "dug by hand over a winter the valley still calls the hardest on record.",
    "The station building survives as a museum, and its ticket office still sells tickets for the "
    "summer steam trains that run on the lower section.",
]


def two_columns():
    body = "".join(f"<p>{paragraph}</p>" for paragraph in LEFT + RIGHT)
    html = f"""<!doctype html><html><head><title>The Larkspur Valley</title><style>
    body {{ font: 11pt serif; margin: 0 }} .cols {{ column-count: 2; column-gap: 2em; text-align: justify }}
    h1 {{ font-size: 16pt }}</style></head><body><h1>The Larkspur Valley</h1>
    <div class="cols">{body}</div></body></html>"""
    print_pdf(html, "two-columns.pdf", header_footer=False)


def pdf_file(streams, fonts="/F1 5 0 R"):
    """A minimal PDF: one page per content stream, Helvetica as font F1."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", None, None, None, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for stream in streams:
        data = stream.encode("latin-1")
        objects.append(f"<< /Length {len(data)} >>\nstream\n{stream}\nendstream")
        content = len(objects)
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << {fonts} >> >> /Contents {content} 0 R >>")
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    objects[2] = "<< >>"
    objects[3] = "<< >>"
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def two_columns_interleaved():
    """Two columns whose lines are drawn across the page, left line then right
    line, as some generators write them: reading order must come from positions."""
    import textwrap
    def lines(paragraphs):
        out = []
        for paragraph in paragraphs:
            out += textwrap.wrap(paragraph, 42) + [""]
        return out
    left, right = lines(LEFT), lines(RIGHT)
    ops = ["BT /F1 16 Tf 72 720 Td (The Larkspur Valley) Tj ET"]
    for i in range(max(len(left), len(right))):
        y = 690 - 13 * i
        for x, column in ((72, left), (326, right)):
            if i < len(column) and column[i]:
                escaped = column[i].replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
                ops.append(f"BT /F1 10 Tf {x} {y} Td ({escaped}) Tj ET")
    with open(os.path.join(HERE, "two-columns-interleaved.pdf"), "wb") as f:
        f.write(pdf_file(["\n".join(ops)]))


def long_report():
    chapters = []
    for n in range(1, 15):
        paragraphs = "".join(
            f"<p>Chapter {n} of the harbour report covers the works of year {1900 + n}. "
            f"The harbour board met {n + 3} times that year and approved {n * 2} new berths. "
            "Engineers measured the tides every morning, and the clerks copied their tables "
            "into the ledgers that the board kept in the harbour master's office.</p>"
            for _ in range(9))
        chapters.append(f"<h2>Chapter {n}</h2>{paragraphs}")
    # The fact a question will find, only on the last pages.
    chapters.append("<h2>The lighthouse</h2><p>The Kestrel Point lighthouse was first lit on "
                    "9 November 1927, and its lamp could be seen from forty kilometres out at sea.</p>")
    html = f"""<!doctype html><html><head><title>Annual Harbour Report</title><style>
    body {{ font: 12pt serif }} h2 {{ break-before: page }}</style></head><body>
    <h1>Annual Harbour Report</h1>{''.join(chapters)}</body></html>"""
    print_pdf(html, "long-report.pdf", header_footer=True)


def png(width, height):
    """A grey image: what a scanner gives a PDF, with no text in it."""
    raw = b"".join(b"\x00" + bytes([180]) * width for _ in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def scanned():
    image = base64.b64encode(png(600, 800)).decode()
    html = f'<!doctype html><html><body style="margin:0"><img src="data:image/png;base64,{image}"></body></html>'
    print_pdf(html, "scanned.pdf", header_footer=False)


def encrypted():
    reader = pypdf.PdfReader(os.path.join(HERE, "two-columns.pdf"))
    writer = pypdf.PdfWriter()
    for page in reader.pages:
        writer.add_page(page)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    with open(os.path.join(HERE, "encrypted.pdf"), "wb") as f:
        writer.write(f)


TABLE = [("Ferry", "Crossing time", "Fare"), ("Osprey", "40 minutes", "12 crowns"),
         ("Heron", "55 minutes", "9 crowns")]


def docx():
    document = Document()
    document.core_properties.title = "Island Ferries Handbook"
    document.add_heading("Island Ferries", level=1)
    document.add_paragraph("Two ferries serve the island of Marrow from the mainland port of Tillen. "
                           "Both sail every day of the year except when the harbour master closes the port.")
    document.add_heading("Timetable", level=2)
    document.add_paragraph("The first crossing leaves Tillen at six in the morning and the last returns "
                           "from Marrow at ten at night.")
    document.add_heading("Fares", level=2)
    document.add_paragraph("Fares are paid on board. Children under twelve travel free.")
    table = document.add_table(rows=0, cols=3)
    for row in TABLE:
        cells = table.add_row().cells
        for cell, value in zip(cells, row):
            cell.text = value
    document.add_heading("Safety", level=2)
    document.add_paragraph("Every passenger is counted at the gangway, and the count is radioed to "
                           "the harbour master before the ferry leaves.")
    document.save(os.path.join(HERE, "ferries.docx"))


def odt():
    document = OpenDocumentText()
    document.meta.addElement(dc.Title(text="Orchard Keeping Notes"))
    h = lambda level, words: odf_text.H(outlinelevel=level, text=words)
    p = lambda words: odf_text.P(text=words)
    document.text.addElement(h(1, "Orchard Keeping"))
    document.text.addElement(p("The old orchard at Pellow Farm holds ninety apple trees of eleven varieties."))
    document.text.addElement(h(2, "Pruning"))
    document.text.addElement(p("The trees are pruned in February, while they are dormant, and never "
                               "more than a third of a tree in one winter."))
    document.text.addElement(h(2, "Harvest"))
    document.text.addElement(p("The harvest starts with the early Discovery apples in late August."))
    grid = odf_table.Table(name="Harvest")
    for _ in range(2):
        grid.addElement(odf_table.TableColumn())
    for row in [("Variety", "Picked"), ("Discovery", "late August"), ("Bramley", "October")]:
        tr = odf_table.TableRow()
        for value in row:
            cell = odf_table.TableCell()
            cell.addElement(p(value))
            tr.addElement(cell)
        grid.addElement(tr)
    document.text.addElement(grid)
    document.save(os.path.join(HERE, "orchard.odt"))


if __name__ == "__main__":
    two_columns()
    two_columns_interleaved()
    long_report()
    scanned()
    encrypted()
    docx()
    odt()
