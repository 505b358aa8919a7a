"""A broken district file fails at start-up with the file, line, key path and a useful message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from config.loader import ConfigError, load_district

BASE = """\
name: Test district
streets:
  - id: north
    name: North
    polygon: [[22.55, 114.22], [22.56, 114.22], [22.56, 114.23]]
restaurants:
  - id: r001
    licence_no: JY24403080000011
    name: Noodle House
    address: No. 1 Test Road
    street: north
    lat: 22.555
    lon: 114.225
    public_id: abcdef1234
cameras:
  - id: cam-r001
    owner: {kind: restaurant, id: r001}
    url: rtsp://viewer:${CAM_PASS}@127.0.0.1:8554/cam0
users:
  - username: admin
    role: district_admin
"""
ENV = {"CAM_PASS": "s3cret"}
SECOND_RESTAURANT = """\
  - id: r001
    licence_no: JY24403080000029
    name: Dim Sum House
    address: No. 2 Test Road
    street: north
    lat: 22.556
    lon: 114.226
    public_id: abcdef5678
"""


def edit(old: str, new: str) -> Callable[[str], str]:
    """Replace one exact piece of BASE, failing loudly if the test's premise is wrong."""

    def apply(text: str) -> str:
        assert text.count(old) == 1, old
        return text.replace(old, new)

    return apply


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[str], str]
    path: str  # the key path the problem must name
    line_of: str | None  # a piece of the file whose (last) line the problem must point at
    message: str  # a piece of the message
    env: dict[str, str] = field(default_factory=lambda: dict(ENV))


CASES = [
    Case(
        "misspelt key suggests the right one",
        edit("    licence_no:", "    licnce_no:"),
        "restaurants[0].licnce_no",
        "licnce_no",
        "unknown key 'licnce_no' (did you mean 'licence_no'?)",
    ),
    Case(
        "misspelt nested key",
        edit("{kind: restaurant,", "{knd: restaurant,"),
        "cameras[0].owner.knd",
        "knd:",
        "did you mean 'kind'?",
    ),
    Case(
        "misspelt top-level key",
        edit("restaurants:\n", "restaurant:\n"),
        "restaurant",
        "restaurant:",
        "did you mean 'restaurants'?",
    ),
    Case(
        "missing required key points at its item",
        edit("    address: No. 1 Test Road\n", ""),
        "restaurants[0].address",
        "- id: r001",
        "required key 'address' is missing",
    ),
    Case(
        "unknown street reference",
        edit("    street: north", "    street: south"),
        "restaurants[0].street",
        "street: south",
        "unknown id 'south' (known: north)",
    ),
    Case(
        "duplicate restaurant id points at the second one",
        edit("cameras:\n", SECOND_RESTAURANT + "cameras:\n"),
        "restaurants[1].id",
        SECOND_RESTAURANT.splitlines()[0],
        "duplicate id 'r001' (first at restaurants[0].id)",
    ),
    Case(
        "invalid YAML reports the line",
        edit("    name: Noodle House", "   name: Noodle House"),
        "",
        "   name: Noodle House",
        "not valid YAML",
    ),
    Case(
        "duplicate key in one restaurant",
        edit("    name: Noodle House\n", "    name: Noodle House\n    name: Dim Sum House\n"),
        "restaurants[0].name",
        "name: Dim Sum House",
        "duplicate key 'name' (first on line 9)",
    ),
    Case(
        "a second section would silently replace the first",
        lambda text: text + "restaurants: []\n",
        "restaurants",
        "restaurants: []",
        "duplicate key 'restaurants' (first on line 6)",
    ),
    Case(
        "a self-containing alias is refused instead of hanging",
        lambda text: text + "extra: &loop\n  again: *loop\n",
        "extra.again",
        "extra: &loop",
        "an alias refers to a node that contains it",
    ),
    Case("a list is not a district", lambda _: "- north\n- south\n", "", "- north", "must be a mapping"),
    Case("an empty file is not a district", lambda _: "", "", None, "must be a mapping"),
    Case(
        "unset environment variable names the key",
        lambda text: text,
        "cameras[0].url",
        "url: rtsp",
        "environment variable CAM_PASS is not set",
        env={},
    ),
    Case(
        "camera URL must be RTSP",
        edit("url: rtsp://", "url: http://"),
        "cameras[0].url",
        "url: http",
        "must start with rtsp:// or rtsps://",
    ),
    Case(
        "street supervisor needs a street",
        lambda text: text + "  - username: sup\n    role: street_supervisor\n",
        "users[1]",
        "- username: sup",
        "a street_supervisor needs a street",
    ),
    Case(
        "coordinates out of range",
        edit("    lat: 22.555", "    lat: 122.555"),
        "restaurants[0].lat",
        "lat: 122.555",
        "less than or equal to 90",
    ),
]


def _line(text: str, piece: str) -> int:
    matches = [n for n, line in enumerate(text.splitlines(), start=1) if piece in line]
    assert matches, piece
    return matches[-1]


def test_base_file_is_valid(tmp_path: Path) -> None:
    file = tmp_path / "district.yaml"
    file.write_text(BASE, encoding="utf-8")
    district = load_district(file, environ=ENV)
    assert [r.id for r in district.restaurants] == ["r001"]
    # ${VAR} is replaced from the given environment, not the process one.
    assert district.cameras[0].url.get_secret_value() == "rtsp://viewer:s3cret@127.0.0.1:8554/cam0"
    # ... and the secret stays out of the model's repr, which is what ends up in logs.
    assert "s3cret" not in repr(district.cameras[0])


def test_process_environment_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "district.yaml"
    file.write_text(BASE, encoding="utf-8")
    monkeypatch.setenv("CAM_PASS", "from-env")
    url = load_district(file).cameras[0].url.get_secret_value()
    assert url == "rtsp://viewer:from-env@127.0.0.1:8554/cam0"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_file_names_file_line_and_key(tmp_path: Path, case: Case) -> None:
    text = case.make(BASE)
    file = tmp_path / "district.yaml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_district(file, environ=case.env)
    err = info.value
    matching = [p for p in err.problems if p[0] == case.path and case.message in p[2]]
    assert matching, f"no problem {case.path!r} / {case.message!r} in {err.problems}"
    _, line, message = matching[0]
    expected_line = _line(text, case.line_of) if case.line_of is not None else 1
    assert line == expected_line
    rendered = str(err).splitlines()
    assert f"{file}:{expected_line}: {case.path + ': ' if case.path else ''}" in "\n".join(rendered)
    assert any(
        line_text.startswith(f"{file}:{expected_line}:") and message in line_text for line_text in rendered
    )
    # Credentials never appear in the error, whatever went wrong.
    assert "s3cret" not in str(err)


def test_missing_file(tmp_path: Path) -> None:
    file = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_district(file)
    assert info.value.file == file
    assert str(info.value).startswith(f"{file}: ")
    assert "cannot read file" in str(info.value)
    assert info.value.problems[0][1] is None


def test_every_problem_is_reported(tmp_path: Path) -> None:
    # Two independent mistakes in one file: the user should see both on the first run.
    text = edit("    licence_no:", "    licnce_no:")(BASE)
    text = edit("    lat: 22.555", "    lat: north")(text)
    file = tmp_path / "district.yaml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_district(file, environ=ENV)
    paths = {p[0] for p in info.value.problems}
    assert {"restaurants[0].licnce_no", "restaurants[0].lat"} <= paths
    # The typo is reported once, as the unknown key with its suggestion, not again as a missing key.
    assert "restaurants[0].licence_no" not in paths
