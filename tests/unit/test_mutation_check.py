"""The mutation check (scripts/mutants.py) stays runnable and its score in the README stays the script's.

The full check takes minutes (it runs tests per mutant); these are the cheap parts that drift silently: an edit
to the code that removes a mutant's text would only show when someone next runs the check, and a mutant added
without the README's count would make the published score a claim about a different list.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "mutants.py"


def load_script():
    spec = importlib.util.spec_from_file_location("orchestray_mutants", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_mutant_text_is_in_its_file_exactly_once() -> None:
    mutants = load_script()
    for mutant in mutants.MUTANTS:
        source = (REPO / mutant.path).read_text(encoding="utf-8")
        assert source.count(mutant.old) == 1, f"{mutant.name}: its text is not (once) in {mutant.path}"
        assert mutant.new != mutant.old
        for spec in mutant.tests:
            name = spec.split("::")[0].split()[0]
            assert list((REPO / "tests").rglob(name)), f"{mutant.name}: no test file {name}"


def test_the_readme_states_the_score_for_the_mutants_the_script_runs() -> None:
    listed = subprocess.run([sys.executable, str(SCRIPT), "--list"], capture_output=True, text=True, timeout=60,
                            check=True).stdout.strip().splitlines()
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    count = re.search(r"\*\*Mutation check\*\*.*?: (\d+) hand-made bugs", readme)
    score = re.search(r"\*\*Mutation check\*\*.*?Score on [\d-]+: \*\*(\d+)/(\d+) killed\*\*", readme)
    assert count and score, "README.md has no mutation check paragraph with a count and a score"
    assert int(count.group(1)) == int(score.group(2)) == len(listed), (count.group(0), score.group(0), len(listed))
