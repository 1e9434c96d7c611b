"""expat, set up for the XML inside uploaded workbooks. Django-free.

No document type declarations at all (no spreadsheet part has one): that closes entity expansion
("billion laughs") and external entities in one rule. Names come as "namespace-URI local-name",
so a part written with another prefix (x:c, or none) reads the same (the sheet's own hot loop
matches local names itself, without expat's namespace processing).
"""

from collections.abc import Callable, Iterable, Iterator
from xml.parsers import expat

from .problems import SheetRefused

XML_SPACE = "http://www.w3.org/XML/1998/namespace space"


class StopParsing(Exception):
    """Raised by a handler that has read all it needs from a part."""


def _refuse_dtd(*_args) -> None:
    raise SheetRefused("structure")


def secure_parser(*, namespaces: bool = True) -> expat.XMLParserType:
    parser = expat.ParserCreate(namespace_separator=" ") if namespaces else expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    parser.buffer_size = 1 << 16
    return parser


def parse_stream(parser: expat.XMLParserType, chunks: Iterable[bytes]) -> Iterator[None]:
    """Feed a part to the parser chunk by chunk, pausing after each (and once at the end) so
    that the caller can hand on what the handlers collected. Malformed XML is a damaged file; a
    handler's StopParsing ends the part early."""
    try:
        for chunk in chunks:
            parser.Parse(chunk, False)
            yield
        parser.Parse(b"", True)
    except StopParsing:
        pass
    except expat.ExpatError:
        raise SheetRefused("damaged") from None
    yield


def feed(parser: expat.XMLParserType, chunks: Iterable[bytes]) -> None:
    for _pause in parse_stream(parser, chunks):
        pass


def parse_small(
    data: bytes,
    start: Callable[[str, dict], None],
    end: Callable[[str], None] | None = None,
    text: Callable[[str], None] | None = None,
    max_depth: int = 64,
) -> None:
    """Parse a small part in one go (workbook, relationships, styles), refusing deep nesting."""
    parser = secure_parser()
    depth = 0

    def on_start(name: str, attrs: dict) -> None:
        nonlocal depth
        depth += 1
        if depth > max_depth:
            raise SheetRefused("structure")
        start(name, attrs)

    def on_end(name: str) -> None:
        nonlocal depth
        depth -= 1
        if end is not None:
            end(name)

    parser.StartElementHandler = on_start
    parser.EndElementHandler = on_end
    if text is not None:
        parser.CharacterDataHandler = text
    feed(parser, [data])


def local(name: str) -> str:
    return name.rpartition(" ")[2]
