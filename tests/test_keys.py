"""Keys (core/keys.py): every parser takes the whole key or nothing."""

import pytest

from core import keys

JOB = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("parse", "key"),
    [
        (keys.parse_source_key, f"sources/acme/{JOB}.pdf\n"),
        (keys.parse_record_key, f"jobs/acme/{JOB}.json\n"),
        (keys.parse_inbox_key, "inbox/acme/report.pdf\n"),
        (keys.parse_inbox_key, "inbox/acme/bad\nname.pdf"),
        (keys.parse_index_key, f"index/acme/all/0000000000000-{JOB}\n"),
    ],
)
def test_a_trailing_newline_or_control_character_is_not_a_key(parse, key):
    with pytest.raises(ValueError):
        parse(key)


def test_a_job_id_with_a_trailing_newline_is_not_a_job_id():
    assert keys.is_job_id(JOB)
    assert not keys.is_job_id(JOB + "\n")


def test_whole_keys_still_parse():
    assert keys.parse_source_key(keys.source_key("acme", JOB)) == ("acme", JOB)
    assert keys.parse_record_key(keys.record_key("acme", JOB)) == ("acme", JOB)
    assert keys.parse_inbox_key("inbox/acme/folder/report 1.pdf") == ("acme", "report 1.pdf")
