"""The engine registry (core/engine_registry.py) is what settings, the API's contract and the
docs name: every engine it lists loads with the engine interface, and nothing else is offered."""

import json

import pytest

from core import engine_registry
from core.errors import BadRequest
from core.jobs import options
from core.settings import SettingsError, load_settings
from tests.support.servers import ROOT


@pytest.mark.parametrize("name", engine_registry.NAMES)
def test_every_registered_engine_loads_with_the_engine_interface(name):
    module = engine_registry.load(name)
    assert callable(module.page_count) and callable(module.extract)
    assert engine_registry.version(name)  # its package is installed: part of the dedup key


def test_the_default_engine_is_registered():
    assert engine_registry.DEFAULT in engine_registry.NAMES
    assert load_settings({}).default_engine == engine_registry.DEFAULT


def test_settings_and_the_engine_field_accept_only_registered_engines():
    with pytest.raises(SettingsError, match="DEFAULT_ENGINE"):
        load_settings({"DEFAULT_ENGINE": "textract"})
    with pytest.raises(BadRequest, match="engine must be one of pdfminer, pdfium, ocr"):
        options.engine("textract", engine_registry.DEFAULT)
    assert options.engine(None, "pdfium") == "pdfium"


def test_the_openapi_document_and_the_api_docs_offer_exactly_the_registered_engines():
    document = json.loads((ROOT / "functions" / "openapi.json").read_text())
    enums = [
        prop["enum"]
        for schema in _walk(document)
        if isinstance(schema, dict)
        for name, prop in schema.get("properties", {}).items()
        if name == "engine" and "enum" in prop
    ]
    assert enums and all(enum == list(engine_registry.NAMES) for enum in enums)
    api = (ROOT / "docs" / "api.md").read_text()
    assert all(f"`{name}`" in api for name in engine_registry.NAMES)


def _walk(node):
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from _walk(child)
