"""The README's shell blocks run as written after `make demo` on a fresh clone (no
ingest.yaml), each command with the exit status its comment promises."""

from __future__ import annotations

import re
import shlex
import shutil

from multigate.cli import main as ingest_main
from multigate.console import main as console_main
from multigate.exit_codes import ExitCode
from tests.cli.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
SHELL_BLOCKS = re.findall(r"```sh\n(.*?)```", README, re.S)
# the two `make` commands are what sets the folder up; activating .venv changes nothing here
SETUP = ("make ", "source ")
# what the README says these exit with on the demo's data
EXPECTED = {"multigate check --data-dir data": ExitCode.QUALITY_FAILED}


def commands() -> list[str]:
    """Every command of the README's shell blocks, continuation lines joined, comments cut."""
    found = []
    for block in SHELL_BLOCKS:
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words and not line.startswith(SETUP):
                found.append(shlex.join(words))
    return found


def test_the_readme_first_page_is_short_and_links_its_docs():
    assert len(README.splitlines()) < 200
    for page in re.findall(r"\]\((docs/[a-z_]+\.md)\)", README):
        assert (REPO_ROOT / page).is_file(), page
    assert {
        "multigate check --data-dir data",
        "multigate ingest --config example.ingest.yaml",
    } <= set(commands())


def test_the_readme_commands_run_verbatim_after_the_demo(
    demo_folder, tmp_path, monkeypatch, capsys
):
    clone = tmp_path / "clone"
    shutil.copytree(demo_folder, clone, symlinks=True)
    assert not (clone / "ingest.yaml").exists()
    monkeypatch.chdir(clone)
    for command in commands():
        words = shlex.split(command)
        if words[0] == "cp":
            shutil.copyfile(words[1], words[2])
            continue
        if words[0] == "multigate":
            code = console_main(words[1:])
        else:
            assert words[:3] == ["python", "-m", "scripts.ingest"], command
            code = ingest_main(words[3:])
        out, err = capsys.readouterr()
        assert code == EXPECTED.get(command, ExitCode.OK), f"{command}\n{out}\n{err}"
        assert "Traceback" not in err
    assert (clone / "two_days.parquet").is_file() and (clone / "report.html").is_file()
