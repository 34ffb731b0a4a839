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
    if _name(root) != "Error":
        return None
    return root.findtext("Code") or "", root.findtext("Message") or ""


def list_page(data: bytes) -> dict:
    """A ListObjectsV2 answer as botocore parses it (keys decoded where the store encoded
    them: a store that ignores `encoding-type=url` says nothing, and its keys stay as sent)."""
    root = ET.fromstring(data)  # noqa: S314
    fields = {_name(child): child for child in root}
    decode = (fields["EncodingType"].text or "") == "url" if "EncodingType" in fields else False
    contents, prefixes = [], []
    for child in root:
        name = _name(child)
        if name == "Contents":
            item = {_name(f): f.text or "" for f in child}
            entry = {
                "Key": unquote_plus(item["Key"]) if decode else item["Key"],
                "LastModified": dt.datetime.fromisoformat(item["LastModified"]),
                "ETag": item.get("ETag", ""),
                "Size": int(item.get("Size") or 0),
            }
            if "StorageClass" in item:
                entry["StorageClass"] = item["StorageClass"]
            contents.append(entry)
        elif name == "CommonPrefixes":
            prefix = next((f.text or "" for f in child if _name(f) == "Prefix"), "")
            prefixes.append({"Prefix": unquote_plus(prefix) if decode else prefix})
    page: dict = {"IsTruncated": _text(fields, "IsTruncated") == "true"}
    if contents:
        page["Contents"] = contents
    if prefixes:
        page["CommonPrefixes"] = prefixes
    token = _text(fields, "NextContinuationToken")
    if token:
        page["NextContinuationToken"] = token
    return page


def _name(element) -> str:
    """The tag without its namespace (S3 answers in http://s3.amazonaws.com/doc/2006-03-01/)."""
    return element.tag.rpartition("}")[2]


def _text(fields: dict, name: str) -> str:
    element = fields.get(name)
    return (element.text or "") if element is not None else ""
