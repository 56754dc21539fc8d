"""Help for every sub-command: what it is for, an example, the environment it reads."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from sending_domain.cli.main import build_parser, main


def sub_commands(parser: argparse.ArgumentParser, prefix: str = "") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix}{name}", sub
                yield from sub_commands(sub, f"{prefix}{name} ")


ALL = sorted(name for name, _ in sub_commands(build_parser()))


def test_the_known_commands_are_all_there() -> None:
    assert {"plan", "verify", "drift", "spf", "spf flatten", "spf lock"} <= set(ALL)


@pytest.mark.parametrize("command", ALL)
def test_every_sub_command_has_a_description_an_example_and_its_environment(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command.split(), "--help"]) == 0
    text = capsys.readouterr().out
    parser = dict(sub_commands(build_parser()))[command]
    assert parser.description, command
    assert "example:\n  sending-domain " + command.split()[0] in text
    assert "environment:" in text and "SENDING_DOMAIN_DEBUG" in text


def test_verify_help_names_the_smtp_and_aws_variables(capsys: pytest.CaptureFixture[str]) -> None:
    main(["verify", "--help"])
    text = capsys.readouterr().out
    for variable in ("SENDING_DOMAIN_SMTP_USERNAME", "SENDING_DOMAIN_SMTP_PASSWORD", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        assert variable in text
    assert "--smtp-port" in text and "--smtp-deadline" in text


@pytest.mark.parametrize("command", ["plan", "drift", "verify"])
def test_domain_is_repeatable(command: str) -> None:
    args = build_parser().parse_args([command, "--stack", "x", "--domain", "a.example", "--domain", "b.example"])
    assert args.domain == ["a.example", "b.example"]


LEAVES = sorted(name for name, parser in sub_commands(build_parser())
                if not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions))
@pytest.mark.parametrize("command", LEAVES)
def test_every_command_takes_json(command: str) -> None:
    parser = dict(sub_commands(build_parser()))[command]
    assert "--json" in {o for a in parser._actions for o in a.option_strings}
