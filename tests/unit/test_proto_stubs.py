"""The committed stubs in proto/kairos/v1 match the .proto files (run proto/generate_stubs.py).

Each committed ``*_pb2`` module embeds its file's descriptor; protoc compiles the
.proto files into descriptors afresh, and the two must be equal. Editing a .proto
file without regenerating fails here.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import shutil
from pathlib import Path
from types import ModuleType

import pytest
from google.protobuf import descriptor_pb2

PROTO_ROOT = Path(__file__).resolve().parents[2] / "proto"
STUBS = PROTO_ROOT / "kairos" / "v1"
CRI = PROTO_ROOT / "kairos" / "cri"  # the CRI subset the agent speaks (agent/containers/cri.py)
STUB_DIRS = (STUBS, CRI)


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "kairos_generate_stubs", PROTO_ROOT / "generate_stubs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generator = _load_generator()


def compile_descriptors(
    proto_root: Path, out: Path
) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    """protoc's descriptors of the .proto files under ``proto_root``, by file name."""
    from grpc_tools import protoc  # type: ignore[import-untyped]

    include = Path(protoc.__file__).parent / "_proto"
    files = sorted(p.relative_to(proto_root).as_posix() for p in proto_root.rglob("*.proto"))
    assert files, f"no .proto files under {proto_root}"
    args = [
        "protoc",
        f"-I{proto_root}",
        f"-I{include}",
        f"--descriptor_set_out={out}",
        *files,
    ]
    assert protoc.main(args) == 0, "protoc failed"
    found = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    return {f.name: _normalized(f) for f in found.file}


def committed_descriptor(name: str) -> descriptor_pb2.FileDescriptorProto | None:
    """The descriptor embedded in the committed ``_pb2`` module of ``name``, if there is one."""
    module_name = name.removesuffix(".proto").replace("/", ".") + "_pb2"
    if not (PROTO_ROOT / (module_name.replace(".", "/") + ".py")).is_file():
        return None
    module = importlib.import_module(module_name)
    return _normalized(
        descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb)
    )


def stale_stubs(proto_root: Path, tmp: Path) -> list[str]:
    """The .proto files under ``proto_root`` whose committed stubs differ from them."""
    compiled = compile_descriptors(proto_root, tmp / "descriptors.pb")
    return [name for name, fresh in sorted(compiled.items()) if committed_descriptor(name) != fresh]


def _normalized(
    file: descriptor_pb2.FileDescriptorProto,
) -> descriptor_pb2.FileDescriptorProto:
    """A copy without what protoc and the Python generator may record differently."""
    copy = descriptor_pb2.FileDescriptorProto()
    copy.CopyFrom(file)
    copy.ClearField("source_code_info")
    for field in copy.extension:
        field.ClearField("json_name")
    for message in copy.message_type:
        _clear_json_names(message)
    return copy


def _clear_json_names(message: descriptor_pb2.DescriptorProto) -> None:
    for field in [*message.field, *message.extension]:
        field.ClearField("json_name")
    for nested in message.nested_type:
        _clear_json_names(nested)


def test_committed_stubs_match_the_proto_files(tmp_path: Path) -> None:
    assert stale_stubs(PROTO_ROOT, tmp_path) == [], "run: python proto/generate_stubs.py"


def test_every_proto_file_is_checked(tmp_path: Path) -> None:
    compiled = compile_descriptors(PROTO_ROOT, tmp_path / "descriptors.pb")
    expected = {p.relative_to(PROTO_ROOT).as_posix() for d in STUB_DIRS for p in d.glob("*.proto")}
    assert set(compiled) == expected
    assert "kairos/cri/api.proto" in expected
    assert {"kairos/v1/common.proto", "kairos/v1/command.proto"} <= expected


@pytest.mark.parametrize("directory", STUB_DIRS, ids=lambda d: d.name)
def test_no_stub_without_its_proto_file(directory: Path) -> None:
    protos = {p.stem for p in directory.glob("*.proto")}
    stubs = {p.name.removesuffix("_pb2.py") for p in directory.glob("*_pb2.py")}
    assert stubs == protos


def test_an_edited_proto_file_is_detected(tmp_path: Path) -> None:
    copy = tmp_path / "proto"
    shutil.copytree(PROTO_ROOT / "kairos", copy / "kairos", ignore=shutil.ignore_patterns("*.py*"))
    command = copy / "kairos" / "v1" / "command.proto"
    text = command.read_text()
    edited = text.replace(
        "  string client_token = 9;\n",
        "  string client_token = 9;\n  string added_field = 99;\n",
    )
    assert edited != text
    command.write_text(edited)
    assert stale_stubs(copy, tmp_path) == ["kairos/v1/command.proto"]


def test_a_renamed_enum_value_is_detected(tmp_path: Path) -> None:
    copy = tmp_path / "proto"
    shutil.copytree(PROTO_ROOT / "kairos", copy / "kairos", ignore=shutil.ignore_patterns("*.py*"))
    common = copy / "kairos" / "v1" / "common.proto"
    common.write_text(common.read_text().replace("OS_TYPE_FREEBSD = 3", "OS_TYPE_FREEBSD = 4"))
    assert "kairos/v1/common.proto" in stale_stubs(copy, tmp_path)


def test_an_unregenerated_new_proto_file_is_detected(tmp_path: Path) -> None:
    copy = tmp_path / "proto"
    shutil.copytree(PROTO_ROOT / "kairos", copy / "kairos", ignore=shutil.ignore_patterns("*.py*"))
    (copy / "kairos" / "v1" / "extra.proto").write_text(
        'syntax = "proto3";\npackage kairos.v1;\nmessage Extra { string x = 1; }\n'
    )
    assert stale_stubs(copy, tmp_path) == ["kairos/v1/extra.proto"]


SERVICE = re.compile(r"^service \w+", re.MULTILINE)


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stubs freshly generated by proto/generate_stubs.py."""
    out = tmp_path_factory.mktemp("stubs")
    generator.generate(out)
    return out


def test_generator_covers_every_proto_file() -> None:
    assert [p.relative_to(PROTO_ROOT) for p in generator.proto_files()] == [
        p.relative_to(PROTO_ROOT) for d in STUB_DIRS for p in sorted(d.glob("*.proto"))
    ]


@pytest.mark.parametrize(
    "proto",
    [p.relative_to(PROTO_ROOT).as_posix() for d in STUB_DIRS for p in sorted(d.glob("*.proto"))],
)
def test_grpc_modules_exist_and_match(proto: str, regenerated: Path) -> None:
    stem = proto.removesuffix(".proto")
    committed = PROTO_ROOT / f"{stem}_pb2_grpc.py"
    assert committed.is_file(), f"{committed.name} is missing: run proto/generate_stubs.py"
    assert (PROTO_ROOT / f"{stem}_pb2.pyi").is_file()
    fresh = regenerated / f"{stem}_pb2_grpc.py"
    assert _without_versions(committed.read_text()) == _without_versions(fresh.read_text())
    services = SERVICE.findall((PROTO_ROOT / proto).read_text())
    for service in services:
        name = service.removeprefix("service ")
        assert f"class {name}Stub" in committed.read_text()
        assert f"def add_{name}Servicer_to_server" in committed.read_text()


def test_every_api_service_has_grpc_stubs() -> None:
    with_services = sorted(p.stem for p in STUBS.glob("*.proto") if SERVICE.search(p.read_text()))
    assert with_services == [
        "activation",
        "agent",
        "command",
        "file",
        "fleet",
        "invocation",
        "tag",
    ]
    for stem in with_services:
        module = importlib.import_module(f"kairos.v1.{stem}_pb2_grpc")
        descriptor = importlib.import_module(f"kairos.v1.{stem}_pb2").DESCRIPTOR
        for service in descriptor.services_by_name:
            assert hasattr(module, f"{service}Stub")
            assert hasattr(module, f"{service}Servicer")


def _without_versions(text: str) -> str:
    # The grpcio-tools version is stamped in; it is not part of what the .proto says.
    return re.sub(r"GRPC_GENERATED_VERSION = '[^']*'", "", text)
