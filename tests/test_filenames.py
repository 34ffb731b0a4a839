"""Client filenames are display names only: cleaned (core/filenames.py clean_filename),
bounded, and never part of an object key, on both ways in (POST /documents, POST /uploads).
"""

import unicodedata
import uuid
from urllib.parse import quote, urlsplit

import pytest

from core import keys
from core.filenames import MAX_FILENAME_CHARS, clean_filename
from tests.support.api import complete, post_to_storage, presign
from tests.support.corpus import GOOD

JO = GOOD / "pdfminer_jo.pdf"

# (what it tries, the name a client sends)
HOSTILE = [
    ("traversal", "../../etc/passwd"),
    ("windows traversal", "..\\..\\boot.ini"),
    ("absolute", "/etc/shadow.pdf"),
    ("very long", "a" * 9_996 + ".pdf"),
    ("nfd", "re\u0301sume\u0301.pdf"),
    ("emoji", "\U0001f4c4 report \U0001f469\u200d\U0001f4bb.pdf"),
    ("rtl override", "invoice\u202efdp.exe"),
    ("nul and controls", "a\x00b\x01c\x1b[31m\r\nd\x7f.pdf"),
    ("only controls", "\x00\x07\x1b"),
    ("empty", ""),
    ("s3 variable", "${filename}"),
]
IDS = [label for label, _ in HOSTILE]
NAMES = [name for _, name in HOSTILE]


def assert_safe(shown: str):
    """What a job may call itself: one printable, NFC, bounded path-free name."""
    assert shown and len(shown) <= MAX_FILENAME_CHARS
    assert "/" not in shown and "\\" not in shown
    assert shown.isprintable()  # no NUL, controls, or bidi overrides (format characters)
    assert "\u202e" not in shown
    assert unicodedata.is_normalized("NFC", shown)


def fragments(name: str) -> list[str]:
    """Pieces of a client's name that would show if it leaked into a key."""
    parts = {p for p in name.replace("\\", "/").split("/") if len(p) >= 4}
    parts |= {name[:40]} if len(name) >= 4 else set()
    return [p for p in parts if p not in ("..", "upload.pdf")]


def assert_keys_are_the_jobs(storage, job_id: str, name: str):
    stored = list(storage.list_keys(""))
    [source] = [k for k in stored if k.startswith(keys.SOURCES_PREFIX)]
    assert keys.parse_source_key(source)[1] == job_id  # exactly sources/<tenant>/<id>.pdf
    for key in stored:
        for fragment in fragments(name):
            assert fragment not in key, (key, fragment)
    meta = storage.head(source)["Metadata"]
    assert meta["filename"].isascii() and meta["filename"].isprintable()


def multipart_named(data: bytes, name: str) -> tuple[bytes, str]:
    """A multipart body whose file part names `name` losslessly (RFC 5987 filename*)."""
    boundary = uuid.uuid4().hex
    # (Werkzeug reads an empty filename* as the literal "UTF-8''"; browsers send filename="".)
    named = f"filename*=UTF-8''{quote(name, safe='')}" if name else 'filename=""'
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; {named}\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    return (
        head + data + f"\r\n--{boundary}--\r\n".encode(),
        f"multipart/form-data; boundary={boundary}",
    )


@pytest.mark.parametrize("name", NAMES, ids=IDS)
def test_a_hostile_filename_on_documents_is_cleaned_and_never_a_key(client, services, name):
    body, content_type = multipart_named(JO.read_bytes(), name)
    response = client.post("/api/v1/pdf/documents", data=body, content_type=content_type)
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert_safe(job["filename"])
    assert job["filename"] == clean_filename(name)
    assert_keys_are_the_jobs(services.storage, job["id"], name)


@pytest.mark.parametrize("name", NAMES, ids=IDS)
def test_a_hostile_filename_on_uploads_is_cleaned_and_never_a_key(client, services, name):
    job = presign(client, filename=name, size=JO.stat().st_size)
    assert_safe(job["filename"])
    fields = job["upload"]["post"]["fields"]
    source = fields["key"]
    assert keys.parse_source_key(source)[1] == job["id"]  # pdfq's key, no ${filename}
    shown = fields["x-amz-meta-filename"]
    assert shown.isascii() and shown.isprintable() and len(shown) <= MAX_FILENAME_CHARS
    assert urlsplit(job["upload"]["put"]["url"]).path.endswith("/" + source)

    assert post_to_storage(job, JO.read_bytes()).status_code == 204
    assert complete(client, job).status_code == 202
    assert services.records.get(job["id"], "public").status.value == "succeeded"
    assert_keys_are_the_jobs(services.storage, job["id"], name)


def test_composed_and_decomposed_names_are_the_same_name():
    assert clean_filename("re\u0301sume\u0301.pdf") == clean_filename("r\u00e9sum\u00e9.pdf")
    assert clean_filename("re\u0301sume\u0301.pdf") == "r\u00e9sum\u00e9.pdf"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # the override that shows it as ...exe.pdf
        ("a\x00b\x01c\r\nd.pdf", "abcd.pdf"),
        ("\x00\x07", "upload.pdf"),
        ("", "upload.pdf"),
        ("a" * 9_996 + ".pdf", "a" * (MAX_FILENAME_CHARS - 4) + ".pdf"),  # the type kept
        ("a" * 9_996 + "." + "b" * 20, "a" * MAX_FILENAME_CHARS),  # not an extension
    ],
)
def test_what_a_hostile_name_becomes(given, kept):
    assert clean_filename(given) == kept
