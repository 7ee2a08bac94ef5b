"""One reader for JSON in command output: a document, an array, or one object per line."""

import pytest

from mab_doctor.core.jsonout import json_documents


@pytest.mark.parametrize("text, want", [
    ('{"a": 1}', [{"a": 1}]),                                   # podman version --format json
    ('[{"Id": "x"}, 3, {"Id": "y"}]', [{"Id": "x"}, {"Id": "y"}]),  # podman images --format json
    ('{"ID": "1"}\n{"ID": "2"}\n', [{"ID": "1"}, {"ID": "2"}]),  # docker ... --format '{{json .}}'
    ('WARNING: config\n{"Client": {}}\n', [{"Client": {}}]),    # a warning sharing stdout
    ("", []), ("  \n", []), ("[]", []),
    ("not json at all", None), ("[1, 2", None),
])
def test_json_documents(text, want):
    assert json_documents(text) == want
