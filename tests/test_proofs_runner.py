"""The proofs runner: failed claims stay visible, broken proofs and absent devices are clear."""

import json
import textwrap
from pathlib import Path

import pytest

from quizcnn.devices import DeviceError, resolve_device
from quizcnn.proofs import ProofError, available, run_many, run_proof

FALSE_CLAIM = '''
"""A proof with one true and one deliberately false claim

Used by the runner tests only.
"""


def run(proof):
    torch = proof.torch
    x = torch.ones(3, device=proof.device)
    proof.close("sum_is_three", "sum of three ones", x.sum(), 3.0, 1e-12)
    proof.close("sum_is_four", "sum of three ones (deliberately wrong)", x.sum(), 4.0, 1e-12)
    proof.below("small", "a small number", 0.5, 1.0)
'''

RAISES = '''
"""A proof that breaks half way"""


def run(proof):
    proof.holds("before", "recorded before the error", True)
    raise RuntimeError("the demo fell over")
'''

NO_CLAIMS = '''
"""A proof that measures nothing"""


def run(proof):
    pass
'''

BAD_IMPORT = '''
"""A proof whose module cannot be imported"""

import a_module_that_does_not_exist  # noqa: F401


def run(proof):
    pass
'''


@pytest.fixture
def demos(tmp_path):
    for name, text in {
        "false_claim": FALSE_CLAIM,
        "raises": RAISES,
        "no_claims": NO_CLAIMS,
        "bad_import": BAD_IMPORT,
        "_helper": "X = 1\n",
    }.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _has_mps() -> bool:
    import torch

    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def test_discovery_reads_titles_and_skips_helpers(demos):
    found = available(demos)
    assert set(found) == {"false_claim", "raises", "no_claims", "bad_import"}
    assert found["false_claim"].title == "A proof with one true and one deliberately false claim"


def test_false_claim_is_reported_as_failed_and_still_listed(demos):
    result = run_proof("false_claim", device="cpu", directory=demos)
    assert not result.error
    assert result.passed is False
    assert [c.key for c in result.claims] == ["sum_is_three", "sum_is_four", "small"]
    wrong = result.claim("sum_is_four")
    assert wrong.passed is False
    assert wrong.measured == 3.0 and wrong.expected == 4.0
    assert result.claim("sum_is_three").passed and result.claim("small").passed


def test_result_serializes_with_its_verdict(demos):
    result = run_proof("false_claim", device="cpu", directory=demos)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["passed"] is False
    assert data["device"] == "cpu"
    assert [c["passed"] for c in data["claims"]] == [True, False, True]


def test_proof_that_raises_is_reported_with_its_error(demos):
    result = run_proof("raises", device="cpu", directory=demos)
    assert result.error == "RuntimeError: the demo fell over"
    assert result.passed is False
    assert result.claim("before").passed  # what it measured before failing is kept


def test_proof_without_claims_does_not_pass(demos):
    result = run_proof("no_claims", device="cpu", directory=demos)
    assert not result.error
    assert result.passed is False


def test_proof_that_cannot_import_is_a_proof_error(demos):
    with pytest.raises(ProofError, match="fails to import"):
        run_proof("bad_import", device="cpu", directory=demos)


def test_unknown_proof_name_is_a_proof_error(demos):
    with pytest.raises(ProofError, match="no proof named 'nope'"):
        run_proof("nope", device="cpu", directory=demos)


def test_run_many_yields_each_result_in_order(demos):
    names = [r.name for r in run_many(["no_claims", "false_claim"], directory=demos)]
    assert names == ["no_claims", "false_claim"]


@pytest.mark.skipif(_has_cuda(), reason="this machine has a CUDA GPU")
def test_absent_cuda_is_a_clear_proof_error():
    with pytest.raises(DeviceError) as info:
        resolve_device("cuda")
    message = str(info.value)
    assert "'cuda' is not available" in message
    assert "--device cpu" in message
    assert "\n" not in message


@pytest.mark.skipif(_has_mps(), reason="this machine has an Apple GPU")
def test_absent_mps_is_a_clear_proof_error():
    with pytest.raises(DeviceError, match="'mps' is not available"):
        resolve_device("mps")


@pytest.mark.skipif(_has_cuda() or _has_mps(), reason="this machine has a GPU")
def test_auto_picks_cpu_without_a_gpu():
    assert resolve_device("auto") == "cpu"


def test_unknown_device_name_is_a_proof_error():
    with pytest.raises(DeviceError, match="unknown device 'tpu'"):
        resolve_device("tpu")


# -- a proof run alone, as a learner does ------------------------------------------------

DEMOS = Path(__file__).resolve().parent.parent / "demos"


def run_alone(*args: str, pipe_to_head: bool = False):
    import subprocess
    import sys

    command = [sys.executable, str(DEMOS / "conv_counts.py"), *args]
    if not pipe_to_head:
        return subprocess.run(command, capture_output=True, text=True)
    # a reader that has gone before the proof prints, like `| head -0`
    producer = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    producer.stdout.close()
    _, stderr = producer.communicate()
    return subprocess.CompletedProcess(command, producer.returncode, "", stderr.decode())


def test_a_proof_run_alone_prints_its_claims_and_exits_0():
    done = run_alone("--device", "cpu", "--seed", "0")
    assert done.returncode == 0, done.stderr
    assert "PASS" in done.stdout and "FAIL" not in done.stdout


def test_a_proof_run_alone_on_a_bad_or_absent_device_is_one_line():
    for device, message in [("tpu", "unknown device 'tpu'"), ("mps", "'mps' is not available")]:
        done = run_alone("--device", device)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ")
        assert message in lines[0]


def test_a_proof_whose_reader_closes_the_pipe_ends_without_a_traceback():
    done = run_alone("--json", pipe_to_head=True)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
