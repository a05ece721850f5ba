"""Typed configurations from YAML: every key and type checked, errors name file and key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from occle_core.errors import DataFormatError
from occle_core.typed_config import from_mapping, load_config, read_yaml, to_mapping


@dataclass(frozen=True)
class Inner:
    size: tuple[int, int] = (1, 2)
    ratio: float = 0.5


@dataclass(frozen=True)
class Outer:
    name: str
    mode: Literal["frames", "voxels"] = "frames"
    weights: str | None = None
    widths: tuple[int, ...] = (8, 16)
    inner: Inner = field(default_factory=Inner)
    enabled: bool = True


def test_mapping_round_trip_keeps_types():
    config = from_mapping(
        Outer, {"name": "a", "widths": [1, 2, 3], "inner": {"ratio": 2, "size": [3, 4]}}
    )
    assert config == Outer("a", widths=(1, 2, 3), inner=Inner((3, 4), 2.0))
    assert isinstance(config.inner.ratio, float)
    plain = to_mapping(config)
    assert plain["inner"] == {"size": [3, 4], "ratio": 2.0} and plain["weights"] is None
    assert from_mapping(Outer, plain) == config


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "missing key name"),
        ({"name": "a", "nmae": 1}, "unknown key nmae"),
        ({"name": "a", "inner": {"sise": [1, 2]}}, "unknown key inner.sise"),
        ({"name": 3}, "name = 3 .*a string"),
        ({"name": "a", "mode": "pixels"}, r"mode = 'pixels' .*one of \['frames', 'voxels'\]"),
        ({"name": "a", "weights": 5}, "weights = 5"),
        ({"name": "a", "widths": "8"}, "widths = '8' .*a list"),
        ({"name": "a", "widths": [8, "x"]}, r"widths\[1\] = 'x' .*an integer"),
        ({"name": "a", "inner": {"size": [1, 2, 3]}}, r"inner.size has 3 values .*2"),
        ({"name": "a", "inner": {"ratio": True}}, "inner.ratio = True .*a number"),
        ({"name": "a", "enabled": 1}, "enabled = 1 .*true or false"),
        ({"name": "a", "inner": 4}, "inner = 4 .*a mapping"),
    ],
)
def test_bad_values_name_their_key(data, message):
    with pytest.raises(DataFormatError, match=message) as error:
        from_mapping(Outer, data, "run.yaml")
    assert str(error.value).startswith("run.yaml: ")


def test_yaml_files(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("name: b\nmode: voxels\ninner:\n  size: [5, 6]\n")
    assert load_config(Outer, good) == Outer("b", mode="voxels", inner=Inner((5, 6)))
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(DataFormatError, match=r"broken\.yaml: invalid YAML"):
        read_yaml(broken)
    with pytest.raises(DataFormatError, match=r"absent\.yaml: cannot read"):
        read_yaml(tmp_path / "absent.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(DataFormatError, match=r"empty\.yaml: missing key name"):
        load_config(Outer, empty)


@dataclass(frozen=True)
class Switch:
    amp: Literal["off", "bf16"] = "bf16"
    mode: Literal["frames", "voxels"] = "frames"


def test_yaml_off_means_the_option_off(tmp_path):
    # YAML 1.1 reads a bare `off` as False; an option named "off" is what the user meant.
    path = tmp_path / "switch.yaml"
    path.write_text("amp: off\n")
    assert load_config(Switch, path).amp == "off"
    path.write_text("mode: off\n")  # no option "off" here: still refused, with the value shown
    with pytest.raises(DataFormatError, match=r"mode = False \(expected one of"):
        load_config(Switch, path)
