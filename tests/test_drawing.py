"""The drawing file format: round trips, atomic writes, and a clear DrawingError for every malformed file."""

import json
import os

import pytest

from mnist_desktop.drawing import Drawing, DrawingError, drawing_from_json, drawing_to_json, read_drawing, write_drawing


def sample() -> Drawing:
    return Drawing(280, 200, 18.0, [[(10.5, 20.25), (100.0, 120.0), (150.0, 30.0)], [(42.0, 42.0)]])


def test_json_round_trip_keeps_everything():
    d = sample()
    back = drawing_from_json(drawing_to_json(d))
    assert back == d
    assert back.strokes[1] == [(42.0, 42.0)]   # a single-point stroke (a dot) survives
    assert json.loads(drawing_to_json(d))["strokes"][0][0] == [10.5, 20.25]


def test_file_round_trip_and_the_documented_layout(tmp_path):
    path = tmp_path / "seven.json"
    write_drawing(path, sample())
    assert read_drawing(path) == sample()
    obj = json.loads(path.read_text())
    assert set(obj) == {"width", "height", "pen_width", "strokes"}
    assert obj["width"] == 280 and obj["height"] == 200 and obj["pen_width"] == 18.0


def test_reads_integers_and_empty_drawings():
    d = drawing_from_json('{"width": 28, "height": 28, "pen_width": 2, "strokes": [[[1, 2], [3, 4]], []]}')
    assert d.strokes == [[(1.0, 2.0), (3.0, 4.0)], []] and isinstance(d.pen_width, float)
    assert drawing_from_json('{"width": 28, "height": 28, "pen_width": 2, "strokes": []}').strokes == []


def test_write_is_atomic_and_leaves_the_old_file_on_failure(tmp_path):
    path = tmp_path / "d.json"
    write_drawing(path, sample())
    before = path.read_bytes()
    bad = Drawing(280, 200, float("nan"), [])
    with pytest.raises(DrawingError):
        write_drawing(path, bad)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["d.json"]   # no temp file left behind


BAD = [
    ("{not json", "not valid JSON"),
    ("[1, 2, 3]", "expected a JSON object"),
    ('{"width": 28, "height": 28, "pen_width": 2}', "missing strokes"),
    ('{"height": 28, "pen_width": 2, "strokes": []}', "missing width"),
    ('{"width": "28", "height": 28, "pen_width": 2, "strokes": []}', "width must be a number"),
    ('{"width": 28.5, "height": 28, "pen_width": 2, "strokes": []}', "whole numbers"),
    ('{"width": 0, "height": 28, "pen_width": 2, "strokes": []}', "width 0 is out of range"),
    ('{"width": 100000, "height": 28, "pen_width": 2, "strokes": []}', "width 100000 is out of range"),
    ('{"width": 28, "height": 28, "pen_width": -1, "strokes": []}', "pen_width -1.0 is out of range"),
    ('{"width": 28, "height": 28, "pen_width": 500, "strokes": []}', "pen_width 500.0 is out of range"),
    ('{"width": 28, "height": 28, "pen_width": 2, "strokes": {}}', "strokes must be a list"),
    ('{"width": 28, "height": 28, "pen_width": 2, "strokes": [[1, 2]]}', "stroke 0, point 0 must be [x, y]"),
    ('{"width": 28, "height": 28, "pen_width": 2, "strokes": [[[1, 2, 3]]]}', "must be [x, y]"),
    ('{"width": 28, "height": 28, "pen_width": 2, "strokes": [[[1, 2]], [[1, "a"]]]}', "stroke 1, point 0, y must be a number"),
    ('{"width": 28, "height": 28, "pen_width": 2, "strokes": [[[true, 2]]]}', "x must be a number"),
    ('{"width": 28, "height": 28, "pen_width": 2, "strokes": [[[NaN, 2]]]}', "expected a finite number"),
    ('{"width": 28, "height": 28, "pen_width": 2, "strokes": [[[Infinity, 2]]]}', "expected a finite number"),
    ('{"width": 28, "height": 28, "pen_width": 2, "strokes": [[[1e12, 2]]]}', "absurdly far"),
    ('{"width": 28, "height": 28, "pen_width": NaN, "strokes": []}', "pen_width is nan"),
    ("[" * 100000 + "]" * 100000, "not valid JSON"),
    (b"\xff\xfe\x00garbage", "not valid JSON"),
]


@pytest.mark.parametrize("text, message", BAD)
def test_malformed_drawings_name_the_problem(text, message):
    with pytest.raises(DrawingError) as info:
        drawing_from_json(text, source="x.json")
    assert str(info.value).startswith("x.json: ")
    assert message in str(info.value)


def test_drawing_error_is_a_value_error():
    assert issubclass(DrawingError, ValueError)


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(DrawingError, match="no such file"):
        read_drawing(tmp_path / "missing.json")
    with pytest.raises(DrawingError, match="is a folder"):
        read_drawing(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"width": 28}')
    with pytest.raises(DrawingError) as info:
        read_drawing(bad)
    assert str(bad) in str(info.value) and "missing" in str(info.value)
    binary = tmp_path / "pic.json"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(DrawingError, match="not valid JSON"):
        read_drawing(binary)
