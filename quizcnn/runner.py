"""Running the user's own code: in a child process of its own, with limits, never in ours.

``CheckRun.start(card)`` launches the child (``quizcnn.runner_child``), which
imports torch and the card's checker and then waits; ``run(file)`` hands it the
user's saved file and waits for the report. Started while the card is on
screen, the child is warm by the time the editor closes. A run that passes its
time limit is killed; one that asks for too much memory fails inside the
child; what it prints is capped. Every way the user's code can go wrong comes
back as a CheckReport whose ``error`` is one clear line: nothing raises here.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from quizcnn.cards import Card
from quizcnn.paths import attempts_dir

if TYPE_CHECKING:  # imported when a check runs: a drill without code cards pays nothing
    import subprocess

    from quizcnn.checkkit import CheckReport

TIME_LIMIT_S = 10.0  # a checker's cases take well under a second with a right solution
MEMORY_MB = 2048  # beyond what torch itself maps
STARTUP_LIMIT_S = 60.0  # importing torch on a slow, busy machine


def attempt_path(card: Card) -> Path:
    """The user's own file for a code card, kept between reviews."""
    return attempts_dir() / f"{card.id.replace('-', '_')}.py"


def prepare_attempt(card: Card) -> Path:
    """The attempt file, filled from the card's starter the first time."""
    path = attempt_path(card)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(card.starter or "", encoding="utf-8")
    return path


def unchanged_from_starter(card: Card, path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return text.strip() == (card.starter or "").strip()


class CheckRun:
    """One run of a card's checker on one file, in a child process."""

    def __init__(self, card: Card, time_limit_s: float = TIME_LIMIT_S, memory_mb: int = MEMORY_MB):
        self.card = card
        self.time_limit_s = time_limit_s
        self.memory_mb = memory_mb
        self.process: subprocess.Popen | None = None  # noqa: F821 - see TYPE_CHECKING
        self.started_at = 0.0

    def start(self) -> CheckRun:
        """Launch the child now: it imports torch while the user reads and writes."""
        import subprocess
        import tempfile

        if self.process is None:
            self.started_at = time.monotonic()
            command = [sys.executable, "-m", "quizcnn.runner_child"]
            path = self._checker_path()
            if path is not None:
                command += [self.card.checker or "", str(path)]
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=tempfile.gettempdir(),
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
                start_new_session=True,  # Ctrl-C in the drill does not reach it
            )
        return self

    def _checker_path(self) -> Path | None:
        from quizcnn.proofs import ProofError, checker_path

        try:
            return checker_path(self.card.checker or "")
        except ProofError:
            return None  # run() reports it

    def cancel(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def run(self, file: Path) -> CheckReport:
        """Check the user's saved file; every failure is a report with an error line."""
        import subprocess
        import tempfile

        from quizcnn.proofs import ProofError, checker_path

        try:
            path = checker_path(self.card.checker or "")
        except ProofError as exc:
            return self._failed(str(exc))
        process = self.start().process
        assert process is not None and process.stdin is not None and process.stdout is not None
        if not _ready(process, self.started_at + STARTUP_LIMIT_S):
            self.cancel()
            return self._failed("the checker could not start (torch did not import in time)")
        with tempfile.TemporaryDirectory(prefix="quizcnn-check-") as scratch:
            report_file = Path(scratch) / "report.json"
            job = {
                "card": self.card.id,
                "checker": self.card.checker,
                "checker_path": str(path),
                "file": str(Path(file).resolve()),
                "report": str(report_file),
                "time_limit_s": self.time_limit_s,
                "memory_mb": self.memory_mb,
            }
            try:
                process.stdin.write((json.dumps(job) + "\n").encode())
                process.stdin.close()
            except OSError:
                return self._failed("the checker process ended before it got the file")
            try:
                process.wait(timeout=self.time_limit_s + 2)
            except subprocess.TimeoutExpired:
                self.cancel()
                return self._failed(
                    f"your code ran past the {self.time_limit_s:g} s limit and was stopped "
                    "(an endless loop, or far too much work?)"
                )
            return self._report(process.returncode, report_file)

    def _report(self, code: int, report_file: Path) -> CheckReport:
        from quizcnn.checkkit import CheckReport

        try:
            return CheckReport.from_dict(json.loads(report_file.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            pass
        if code in (-24, -9):  # SIGXCPU from the CPU limit, or killed
            return self._failed(
                f"your code used more than its {self.time_limit_s:g} s of CPU and was stopped"
            )
        if code < 0:
            return self._failed(f"your code crashed the checker process (signal {-code})")
        return self._failed(
            f"the checker process ended without a report (exit {code}); "
            f"more than {self.memory_mb} MB of memory?"
        )

    def _failed(self, message: str) -> CheckReport:
        from quizcnn.checkkit import CheckReport

        return CheckReport(
            self.card.id, self.card.checker or "", "", error=message, time_limit_s=self.time_limit_s
        )


def _ready(process: subprocess.Popen, deadline: float) -> bool:
    """Wait for the child's ready byte (it has imported torch and quizcnn)."""
    import select

    assert process.stdout is not None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        readable, _, _ = select.select([process.stdout], [], [], left)
        if readable:
            return process.stdout.read(1) == b"R"


def check_file(card: Card, file: Path, **limits) -> CheckReport:
    """Check a file cold (start the child and run at once): `quizcnn solve`."""
    return CheckRun(card, **limits).run(file)


class WarmChecks:
    """Keeps one checker child warm for the code card on screen (the drill's helper)."""

    def __init__(self) -> None:
        self.pending: CheckRun | None = None

    def prepare(self, card: Card) -> None:
        """Start a child for this card now, so a check right after editing is fast."""
        if self.pending is not None and self.pending.card.id == card.id:
            return
        self.close()
        self.pending = CheckRun(card).start()

    def run(self, card: Card, file: Path) -> CheckReport:
        self.prepare(card)
        run, self.pending = self.pending, None
        assert run is not None
        report = run.run(file)
        self.prepare(card)  # warm again, for the next attempt
        return report

    def close(self) -> None:
        if self.pending is not None:
            self.pending.cancel()
            self.pending = None


def editor_command(environ=os.environ) -> list[str]:
    """$VISUAL, else $EDITOR, else a common terminal editor on PATH."""
    import shlex
    import shutil

    for variable in ("VISUAL", "EDITOR"):
        value = environ.get(variable, "").strip()
        if value:
            return shlex.split(value)
    for name in ("nano", "vim", "vi"):
        found = shutil.which(name)
        if found:
            return [found]
    return ["vi"]
