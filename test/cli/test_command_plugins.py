"""Sub-commands of other packages arrive through the `occle.commands` entry-point group."""

import argparse
from importlib.metadata import EntryPoint, entry_points

import pytest

from occle_core.cli import main as cli_main


def test_the_installed_ros_package_registers_its_commands_by_entry_point() -> None:
    (ros,) = [e for e in entry_points(group=cli_main.COMMAND_GROUP) if e.name == "ros"]
    assert ros.value == "occle_ros.cli:register"
    commands = cli_main.build_parser()._subparsers._group_actions[0].choices
    assert {"to-bag", "bag-eval", "play"} <= set(commands)


def _hello(subparsers: argparse._SubParsersAction) -> None:
    sub = subparsers.add_parser("hello", help="say hello")
    sub.set_defaults(func=lambda args: 7)


def test_any_package_in_the_group_adds_a_command(monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = EntryPoint("hello", f"{__name__}:_hello", cli_main.COMMAND_GROUP)
    monkeypatch.setattr(cli_main, "entry_points", lambda group: [plugin])
    assert cli_main.main(["hello"]) == 7


def test_a_plugin_that_fails_to_import_is_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = EntryPoint("broken", "occle_no_such_module:register", cli_main.COMMAND_GROUP)
    monkeypatch.setattr(cli_main, "entry_points", lambda group: [broken])
    with pytest.raises(ModuleNotFoundError, match="occle_no_such_module"):
        cli_main.build_parser()
