"""Bad input on the command line: one line on stderr and a non-zero exit; --help documents every flag."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("jsonargparse")

from statetrainer.cli import StateCLI  # noqa: E402
from statetrainer.cli.dependency import jsonargparse  # noqa: E402
from statetrainer.trainer.flags import FLAG_HELP  # noqa: E402
from tests.cli.models import RandomData, Regressor  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

# argv -> the one line expected on stderr (a regex)
BAD = {
    ("fit", "--trainer.max_epoch=2"): r"^program\.py fit: error: unknown option --trainer\.max_epoch=2 \(did you mean "
                                      r"--trainer\.max_epochs\?\); run with --help for the accepted options\.$",
    ("fit", "--trainer.max_epochs=two"): r"^program\.py fit: error: --trainer\.max_epochs got 'two'; accepted: an int "
                                         r"or None\.$",
    ("fit", "--trainer.max_epochs=-3"): r"^program\.py fit: error: --trainer\.max_epochs got -3; accepted: an int >= "
                                        r"-1 or None\.$",
    ("fit", "--trainer.gradient_clip_algorithm=l2"): r"--trainer\.gradient_clip_algorithm got 'l2'; accepted: "
                                                     r"'norm', 'value' or None\.$",
    ("fit", "--trainer.callbacks=NoSuchCallback"): r"--trainer\.callbacks got 'NoSuchCallback'; accepted: a list "
                                                   r"of Callback, a Callback \(class_path\) or None\.$",
    ("fit", "--config", "missing.yaml"): r"^program\.py fit: error: .*missing\.yaml",
    ("fitt",): r"^program\.py: error: .*invalid choice: 'fitt'",
}


@pytest.mark.parametrize("argv", list(BAD), ids=" ".join)
def test_each_bad_input_is_one_line_on_stderr_and_exit_status_2(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        StateCLI(Regressor, RandomData, parser_kwargs={"prog": "program.py"}, args=list(argv))
    assert stop.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert re.search(BAD[argv], err.strip()), err


@pytest.mark.slow
def test_from_a_real_command_line_too():
    """The same two refusals from `python tests/cli/program.py ...` (a parse error and a Trainer refusal)."""
    cases = [("fit", "--trainer.max_epoch=2"), ("fit", "--trainer.max_epochs=-3")]
    runs = {argv: subprocess.Popen([sys.executable, str(ROOT / "tests" / "cli" / "program.py"), *argv], cwd=ROOT,
                                   env={"PYTHONPATH": str(ROOT), "PATH": ""}, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
            for argv in cases}
    for argv, process in runs.items():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 2 and out == "" and err.count("\n") == 1, (argv, err)
        assert re.search(BAD[argv], err.strip()), (argv, err)


def test_missing_jsonargparse_is_an_import_error_that_says_what_to_install(monkeypatch):
    import statetrainer.cli
    monkeypatch.setitem(sys.modules, "jsonargparse", None)
    with pytest.raises(ImportError, match=re.escape('install it with: pip install "statetrainer[cli]"')):
        statetrainer.cli.StateCLI


def test_help_lists_every_trainer_flag_with_its_documentation(capsys):
    with pytest.raises(SystemExit) as stop:
        StateCLI(Regressor, RandomData, args=["fit", "--help"])
    assert stop.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for flag, (_, help_text) in FLAG_HELP.items():
        assert f"--trainer.{flag} " in text, flag
        assert " ".join(help_text.split()) in text, flag
    assert "--ckpt_path CKPT_PATH" in text and "--optimizer" in text and "--model.hidden HIDDEN" in text


def test_without_a_subcommand_the_error_lists_them(capsys):
    with pytest.raises(SystemExit):
        StateCLI(Regressor, RandomData, args=[])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "{fit,validate,test,predict}" in err


def test_exit_on_error_false_raises_instead_of_exiting():
    with pytest.raises(jsonargparse().ArgumentError):
        StateCLI(Regressor, RandomData, parser_kwargs={"exit_on_error": False}, run=False,
                 args=["--trainer.max_epochs=x"])


def test_a_flag_the_trainer_refuses_is_its_own_error_without_exit_on_error():
    from statetrainer.errors import MisconfigurationError
    with pytest.raises(MisconfigurationError, match="`max_epochs` got -3"):
        StateCLI(Regressor, RandomData, parser_kwargs={"exit_on_error": False}, run=False,
                 args=["--trainer.max_epochs=-3"])
