"""Parse an Ardour XML file safely: expat, refusing entity declarations and external references.

Why not ``defusedxml``: ``docs/formats.md`` (Ardour, Reading).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from xml.parsers import expat

from daw_bridge.formats.ardour.session_format import ArdourSessionError


class _Refused(Exception):
    pass


def _refuse_entity(*_args: Any) -> None:
    raise _Refused("contains an XML entity declaration")


def _refuse_external(*_args: Any) -> None:
    raise _Refused("contains an XML external reference")


def _refuse_external_doctype(_name: str, system_id: str | None, public_id: str | None, _internal: bool) -> None:
    if system_id or public_id:
        raise _Refused("contains an XML external reference (a DOCTYPE with a system or public id)")


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ArdourSessionError(f"{path} does not exist; check the path") from None
    except IsADirectoryError:
        raise ArdourSessionError(f"{path} is a folder; give the .ardour file or its session folder") from None
    except OSError as exc:
        raise ArdourSessionError(f"cannot read {path}: {' '.join(str(exc).split())}") from None


def _safe_parser(builder: ET.TreeBuilder) -> Any:
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _refuse_external_doctype
    parser.EntityDeclHandler = _refuse_entity
    parser.UnparsedEntityDeclHandler = _refuse_entity
    parser.ExternalEntityRefHandler = _refuse_external
    parser.NotationDeclHandler = _refuse_external
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    return parser


def parse_xml(path: Path) -> ET.Element:
    """Parse ``path`` with expat, refusing entity declarations and external references."""
    data = _read_bytes(path)
    builder = ET.TreeBuilder()
    parser = _safe_parser(builder)
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise ArdourSessionError(f"{path} {exc}; refusing to read it") from None
    except expat.ExpatError as exc:
        raise ArdourSessionError(
            f"{path} is not valid XML (line {exc.lineno}, column {exc.offset + 1}: "
            f"{expat.ErrorString(exc.code)}); is it an Ardour session?"
        ) from None
    return builder.close()
