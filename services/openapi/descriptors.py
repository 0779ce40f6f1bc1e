"""An index of the descriptors protoc hands a plugin: types by full name, comments by element."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from google.protobuf import descriptor_pb2

# Field numbers of FileDescriptorProto / DescriptorProto / ... used in SourceCodeInfo paths.
_FILE_MESSAGE = 4
_FILE_ENUM = 5
_FILE_SERVICE = 6
_MESSAGE_FIELD = 2
_MESSAGE_NESTED = 3
_MESSAGE_ENUM = 4
_ENUM_VALUE = 2
_SERVICE_METHOD = 2


# Records the comment at a SourceCodeInfo path under an element's full name.
_Note = Callable[[tuple[int, ...], str], None]


@dataclass(frozen=True)
class MessageInfo:
    full_name: str  # without the leading dot
    proto: descriptor_pb2.DescriptorProto
    file: descriptor_pb2.FileDescriptorProto


@dataclass(frozen=True)
class EnumInfo:
    full_name: str
    proto: descriptor_pb2.EnumDescriptorProto


@dataclass
class ProtoIndex:
    """Every message and enum of the request (imports included), and the comments of the
    files that carry source info, keyed by the element's full name (``pkg.Msg.field``)."""

    messages: dict[str, MessageInfo] = field(default_factory=dict)
    enums: dict[str, EnumInfo] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, files: Iterable[descriptor_pb2.FileDescriptorProto]) -> ProtoIndex:
        index = cls()
        for file in files:
            index._add_file(file)
        return index

    def message(self, type_name: str) -> MessageInfo:
        return self.messages[type_name.lstrip(".")]

    def enum(self, type_name: str) -> EnumInfo:
        return self.enums[type_name.lstrip(".")]

    def comment(self, full_name: str) -> str:
        return self.comments.get(full_name, "")

    def _add_file(self, file: descriptor_pb2.FileDescriptorProto) -> None:
        prefix = f"{file.package}." if file.package else ""
        by_path = {tuple(loc.path): _comment_text(loc) for loc in file.source_code_info.location}

        def note(path: tuple[int, ...], full_name: str) -> None:
            text = by_path.get(path, "")
            if text:
                self.comments[full_name] = text

        for i, message in enumerate(file.message_type):
            self._add_message(file, message, f"{prefix}{message.name}", (_FILE_MESSAGE, i), note)
        for i, enum in enumerate(file.enum_type):
            self._add_enum(enum, f"{prefix}{enum.name}", (_FILE_ENUM, i), note)
        for i, service in enumerate(file.service):
            service_name = f"{prefix}{service.name}"
            note((_FILE_SERVICE, i), service_name)
            for j, method in enumerate(service.method):
                note((_FILE_SERVICE, i, _SERVICE_METHOD, j), f"{service_name}.{method.name}")

    def _add_message(
        self,
        file: descriptor_pb2.FileDescriptorProto,
        message: descriptor_pb2.DescriptorProto,
        full_name: str,
        path: tuple[int, ...],
        note: _Note,
    ) -> None:
        self.messages[full_name] = MessageInfo(full_name, message, file)
        note(path, full_name)
        for i, item in enumerate(message.field):
            note((*path, _MESSAGE_FIELD, i), f"{full_name}.{item.name}")
        for i, nested in enumerate(message.nested_type):
            self._add_message(file, nested, f"{full_name}.{nested.name}", (*path, _MESSAGE_NESTED, i), note)
        for i, enum in enumerate(message.enum_type):
            self._add_enum(enum, f"{full_name}.{enum.name}", (*path, _MESSAGE_ENUM, i), note)

    def _add_enum(
        self, enum: descriptor_pb2.EnumDescriptorProto, full_name: str, path: tuple[int, ...], note: _Note
    ) -> None:
        self.enums[full_name] = EnumInfo(full_name, enum)
        note(path, full_name)
        for i, value in enumerate(enum.value):
            note((*path, _ENUM_VALUE, i), f"{full_name}.{value.name}")


_LINTER_DIRECTIVE = "buf:lint:ignore"


def _comment_text(location: descriptor_pb2.SourceCodeInfo.Location) -> str:
    """The leading comment (or else the trailing one), dedented, without the `//` layout."""
    raw = location.leading_comments or location.trailing_comments
    lines = raw.strip("\n").split("\n")
    # protoc keeps the single space after `//`; drop one leading space consistently.
    lines = [line[1:] if line.startswith(" ") else line for line in lines]
    # Directives to the proto linter are not documentation.
    lines = [line for line in lines if not line.startswith(_LINTER_DIRECTIVE)]
    return "\n".join(lines).strip()


def services(
    files: Iterable[descriptor_pb2.FileDescriptorProto],
) -> Iterator[tuple[str, descriptor_pb2.ServiceDescriptorProto]]:
    """(full name, service) of every service in ``files``, in file order."""
    for file in files:
        prefix = f"{file.package}." if file.package else ""
        for service in file.service:
            yield f"{prefix}{service.name}", service
