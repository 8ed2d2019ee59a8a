"""Regenerate the Python stubs in proto/kairos/v1 from the .proto files.

Run after editing a .proto file: ``python proto/generate_stubs.py``.
tests/unit/test_proto_stubs.py fails when the committed stubs are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from grpc_tools import protoc  # type: ignore[import-untyped]

PROTO_ROOT = Path(__file__).resolve().parent


# kairos/v1: the Kairos API. kairos/cri: the part of the Kubernetes CRI the agent speaks
# to find containers (package runtime.v1, as containerd and CRI-O serve it).
STUB_DIRS = (PROTO_ROOT / "kairos" / "v1", PROTO_ROOT / "kairos" / "cri")


def proto_files() -> list[Path]:
    """The .proto files to compile, in a stable order."""
    return [p for directory in STUB_DIRS for p in sorted(directory.glob("*.proto"))]


def generate(out_dir: Path) -> None:
    """Write message, type-stub and gRPC modules for every .proto file into out_dir."""
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *(str(p.relative_to(PROTO_ROOT)) for p in proto_files()),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else PROTO_ROOT)
