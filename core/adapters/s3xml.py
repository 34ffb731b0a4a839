"""The two XML bodies pdfq reads from S3: an error, and a page of ListObjectsV2, the latter in
botocore's shape (Contents with Key, LastModified, ETag, Size; CommonPrefixes; IsTruncated;
NextContinuationToken) so that callers read either alike."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET  # noqa: S405 - the store's own answers, not user input
from urllib.parse import unquote_plus


def error_of(data: bytes) -> tuple[str, str] | None:
    """(Code, Message) of an S3 XML error body, or None when it is not one."""
    if not data or b"<Error" not in data[:512]:
        return None
    try:
        root = ET.fromstring(data)  # noqa: S314
    except ET.ParseError:
        return None
    if root.tag != "Error":
        return None
    return root.findtext("Code") or "", root.findtext("Message") or ""


def list_page(data: bytes) -> dict:
    """A ListObjectsV2 answer as botocore parses it (keys decoded where the store encoded
    them: a store that ignores `encoding-type=url` says nothing, and its keys stay as sent)."""
    root = ET.fromstring(data)  # noqa: S314
    ns = root.tag[: root.tag.find("}") + 1]  # S3 answers in its 2006-03-01 namespace
    decode = root.findtext(ns + "EncodingType") == "url"

    def name(text: str | None) -> str:
        text = text or ""
        return unquote_plus(text) if decode and ("%" in text or "+" in text) else text

    contents = []
    for item in root.iterfind(ns + "Contents"):
        entry = {
            "Key": name(item.findtext(ns + "Key")),
            "LastModified": dt.datetime.fromisoformat(item.findtext(ns + "LastModified") or ""),
            "ETag": item.findtext(ns + "ETag") or "",
            "Size": int(item.findtext(ns + "Size") or 0),
        }
        storage_class = item.findtext(ns + "StorageClass")
        if storage_class:
            entry["StorageClass"] = storage_class
        contents.append(entry)
    prefixes = [
        {"Prefix": name(item.findtext(ns + "Prefix"))}
        for item in root.iterfind(ns + "CommonPrefixes")
    ]
    page: dict = {"IsTruncated": root.findtext(ns + "IsTruncated") == "true"}
    if contents:
        page["Contents"] = contents
    if prefixes:
        page["CommonPrefixes"] = prefixes
    token = root.findtext(ns + "NextContinuationToken")
    if token:
        page["NextContinuationToken"] = token
    return page
