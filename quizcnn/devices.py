"""The devices a proof can run on, and which of them this machine has.

A leaf module: it imports torch only to ask what hardware there is, and
nothing of quizcnn, so the proof runner, the CLI and a demo run alone all
resolve a device the same way.
"""

from __future__ import annotations

DEVICES = ("auto", "cpu", "cuda", "mps")


class DeviceError(Exception):
    """A device name that means nothing, or a device this machine does not have."""


def resolve_device(requested: str) -> str:
    """auto -> cuda, then mps, then cpu. An absent device is a DeviceError, never a crash."""
    if requested not in DEVICES and not requested.startswith("cuda:"):
        known = ", ".join([*DEVICES, "cuda:N"])
        raise DeviceError(f"unknown device {requested!r}: use one of {known}")
    import torch

    has_cuda = torch.cuda.is_available()
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if requested == "auto":
        return "cuda" if has_cuda else "mps" if has_mps else "cpu"
    if requested.startswith("cuda"):
        if not has_cuda:
            raise DeviceError(
                f"device {requested!r} is not available: this torch "
                f"({torch.__version__}) sees no CUDA GPU; use --device cpu"
            )
        index = int(requested.split(":", 1)[1]) if ":" in requested else 0
        if index >= torch.cuda.device_count():
            raise DeviceError(
                f"device {requested!r} is not available: {torch.cuda.device_count()} CUDA GPU(s) seen"
            )
    if requested == "mps" and not has_mps:
        raise DeviceError("device 'mps' is not available on this machine; use --device cpu")
    return requested
