"""docs/configuration.md documents exactly the settings pdfq reads, with their defaults."""

import re

from core.settings import setting_names
from tests.support.servers import ROOT

PLATFORM_SECTION = "## Read by the platform"


def documented(text: str) -> dict[str, str]:
    """{variable: default as written} from the tables' first two columns."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            for name in re.findall(r"`([A-Z0-9_]+)`", cells[0]):
                rows[name] = cells[1]
    return rows


def example_defaults() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def test_every_setting_is_documented_and_nothing_else():
    text = (ROOT / "docs" / "configuration.md").read_text()
    settings_part, _, platform_part = text.partition(PLATFORM_SECTION)
    assert platform_part, f"docs/configuration.md lost its '{PLATFORM_SECTION}' section"
    names = set(documented(settings_part))
    assert names - set(setting_names()) == set(), "documented but not read by core/settings.py"
    assert set(setting_names()) - names == set(), "read by core/settings.py but not documented"


def test_documented_defaults_match_env_example():
    rows = documented((ROOT / "docs" / "configuration.md").read_text())
    for name, default in example_defaults().items():
        assert rows[name] == (f"`{default}`" if default else "*(empty)*"), name
