"""A small CBOR item walker: how every item is *encoded* (major type, argument width,
definite or indefinite length, tags), the way a strict reader such as zcbor takes it.

cbor2 turns bytes into values and hides the encoding: a chunked byte string, an 8-byte
integer and a 1-byte integer all come out the same. Device readers do not work that way,
so the nRF format lints the heads this module reports, and uses cbor2 only for the values
of leaves (numbers, simple values, floats).

The walker is iterative (no recursion, whatever the nesting), checks that the data is
well-formed (RFC 8949 §3 and appendix F: no reserved additional information, breaks only
in indefinite-length items, chunks of the same major type), and never reads past ``end``.
Items nested deeper than ``max_depth`` are still checked but not kept as nodes, so
anything built from a :class:`Node` tree is bounded.
"""

from __future__ import annotations

from typing import Any, Optional

UINT, NINT, BSTR, TSTR, ARRAY, MAP, TAG, SIMPLE = range(8)
MAJOR_NAMES = ("unsigned integer", "negative integer", "byte string", "text string", "array",
               "map", "tag", "simple value or float")
INDEFINITE = 31
BREAK = 0xFF
MAX_DEPTH = 32

# roles of a head in the flat list of :func:`scan`
ITEM, TAG_HEAD, CHUNK, BREAK_HEAD = "item", "tag", "chunk", "break"


def with_article(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


class CborError(ValueError):
    """The bytes are not well-formed CBOR (or end too early) at ``offset``."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"byte {offset}: {reason}")
        self.offset, self.reason = offset, reason

    def __reduce__(self):  # picklable across processes
        return (CborError, (self.offset, self.reason))


class Head:
    """The initial byte and argument of one item (or tag, chunk, break)."""

    __slots__ = ("offset", "major", "info", "argument", "end", "role", "depth")

    def __init__(self, offset: int, major: int, info: int, argument: Optional[int],
                 end: int) -> None:
        self.offset, self.major, self.info, self.argument, self.end = \
            offset, major, info, argument, end
        self.role, self.depth = ITEM, 0

    @property
    def indefinite(self) -> bool:
        return self.info == INDEFINITE

    @property
    def width(self) -> int:
        """Bytes of the argument after the initial byte: 0, 1, 2, 4 or 8."""
        return 1 << (self.info - 24) if 24 <= self.info <= 27 else 0

    @property
    def is_float(self) -> bool:
        return self.major == SIMPLE and 25 <= self.info <= 27

    @property
    def minimal(self) -> bool:
        """Whether the argument is in the shortest form (floats count as minimal)."""
        if self.is_float or self.info < 24 or self.info == INDEFINITE:
            return True
        limit = {24: 24, 25: 0x100, 26: 0x10000, 27: 0x100000000}[self.info]
        return self.argument is not None and self.argument >= limit

    def describe(self) -> str:
        return MAJOR_NAMES[self.major]

    def __repr__(self) -> str:
        return (f"Head({self.offset}, major={self.major}, info={self.info}, "
                f"argument={self.argument}, role={self.role!r})")


def read_head(data: bytes, pos: int, end: int) -> Head:
    """The head at ``pos``; CborError when it is cut off or uses reserved values."""
    if pos >= end:
        raise CborError(pos, "the data ends where an item was expected")
    initial = data[pos]
    major, info = initial >> 5, initial & 0x1F
    if info < 24:
        return Head(pos, major, info, info, pos + 1)
    if info <= 27:
        width = 1 << (info - 24)
        if pos + 1 + width > end:
            raise CborError(pos, f"the data ends inside the head of a {MAJOR_NAMES[major]}")
        argument = int.from_bytes(data[pos + 1:pos + 1 + width], "big")
        if major == SIMPLE and info == 24 and argument < 32:
            raise CborError(pos, f"simple value {argument} in two bytes is not well-formed")
        return Head(pos, major, info, argument, pos + 1 + width)
    if info == INDEFINITE and major in (BSTR, TSTR, ARRAY, MAP, SIMPLE):
        return Head(pos, major, info, None, pos + 1)
    raise CborError(pos, f"byte 0x{initial:02x} is not a valid CBOR head (reserved or "
                         "meaningless additional information)")


class Node:
    """One data item: its tags, its head, its children (arrays and maps: the items, maps
    as key, value, key, value...; indefinite strings: the chunks) and where it ends."""

    __slots__ = ("tags", "head", "children", "end", "deep")

    def __init__(self, tags: list, head: Head) -> None:
        self.tags, self.head = tags, head
        self.children: list = []
        self.end = head.end
        self.deep = False  # children nested deeper than max_depth were not kept

    @property
    def offset(self) -> int:
        return self.tags[0].offset if self.tags else self.head.offset

    @property
    def major(self) -> int:
        return self.head.major

    def __repr__(self) -> str:
        return f"Node({self.offset}..{self.end}, {self.head!r}, {len(self.children)} children)"


class Scan:
    """The result of :func:`scan`: the item as a node tree, and every head in byte order."""

    __slots__ = ("node", "heads")

    def __init__(self, node: Node, heads: list) -> None:
        self.node, self.heads = node, heads

    @property
    def end(self) -> int:
        return self.node.end


class _Frame:
    __slots__ = ("node", "remaining", "depth", "string_major")

    def __init__(self, node: Optional[Node], remaining: Optional[int], depth: int,
                 string_major: Optional[int]) -> None:
        self.node, self.remaining, self.depth, self.string_major = \
            node, remaining, depth, string_major


def scan(data: bytes, pos: int = 0, end: Optional[int] = None, *,
         max_depth: int = MAX_DEPTH) -> Scan:
    """Walk the one item at ``pos``; CborError when it is not well-formed or cut off."""
    end = len(data) if end is None else end
    if pos < end and data[pos] >> 5 in _LEAF_MAJORS and data[pos] & 0x1F <= 27:
        head = read_head(data, pos, end)  # a leaf: what the walk below does for it, directly
        stop = head.end
        if head.major in (BSTR, TSTR):
            if head.argument > end - stop:  # type: ignore[operator]
                raise CborError(head.offset, f"a {head.describe()} of {head.argument} bytes "
                                             f"runs past the end of the data ({end - stop} left)")
            stop += head.argument  # type: ignore[operator]
        node = Node([], head)
        node.end = stop
        return Scan(node, [head])
    return walk(data, pos, end, max_depth=max_depth)


def walk(data: bytes, pos: int, end: int, *, max_depth: int = MAX_DEPTH) -> Scan:
    """:func:`scan` of any item, without its shortcut for leaves."""
    heads: list[Head] = []
    root: Optional[Node] = None
    stack: list[_Frame] = []
    while True:
        frame = stack[-1] if stack else None
        depth = len(stack)
        if frame is not None and frame.remaining is None and pos < end and data[pos] == BREAK:
            brk = Head(pos, SIMPLE, INDEFINITE, None, pos + 1)
            brk.role, brk.depth = BREAK_HEAD, depth
            heads.append(brk)
            pos += 1
            if frame.node is not None and frame.node.major == MAP and len(frame.node.children) % 2:
                raise CborError(brk.offset, "an indefinite-length map ends after a key, "
                                            "without its value")
            if frame.node is not None:
                frame.node.end = pos
            stack.pop()
            if stack and stack[-1].remaining is not None:
                stack[-1].remaining -= 1
            pos = _close_finished(stack, pos)
            if not stack:
                break
            continue
        tags: list[Head] = []
        head = read_head(data, pos, end)
        while head.major == TAG:
            head.role, head.depth = TAG_HEAD, depth
            heads.append(head)
            tags.append(head)
            head = read_head(data, head.end, end)
        head.depth = depth
        if frame is not None and frame.string_major is not None:
            if tags or head.major != frame.string_major or head.indefinite:
                raise CborError(head.offset if not tags else tags[0].offset,
                                f"a chunk of an indefinite-length "
                                f"{MAJOR_NAMES[frame.string_major]} "
                                f"must be a definite {MAJOR_NAMES[frame.string_major]}")
            head.role = CHUNK
        elif head.major == SIMPLE and head.indefinite:
            raise CborError(head.offset, "a break byte (0xff) outside an indefinite-length item")
        heads.append(head)
        pos = head.end
        keep = frame is None or (frame.node is not None and depth <= max_depth)
        node = Node(tags, head) if keep else None
        if frame is not None and frame.node is not None:
            if keep:
                frame.node.children.append(node)
            else:
                frame.node.deep = True
        if node is not None and root is None:
            root = node
        if head.major in (BSTR, TSTR) and not head.indefinite:
            if head.argument > end - pos:  # type: ignore[operator]
                raise CborError(head.offset, f"a {head.describe()} of {head.argument} bytes "
                                             f"runs past the end of the data ({end - pos} left)")
            pos += head.argument  # type: ignore[operator]
        elif head.major in (ARRAY, MAP, BSTR, TSTR) and \
                (head.indefinite or head.argument):  # a container or chunked string
            count = None if head.indefinite else head.argument * (2 if head.major == MAP else 1)  # type: ignore[operator]
            if count is not None and count > end - pos:  # each item takes at least one byte
                raise CborError(head.offset, f"{with_article(head.describe())} of "
                                             f"{head.argument} items cannot fit the {end - pos} "
                                             "bytes left")
            stack.append(_Frame(node, count, depth + 1,
                                head.major if head.major in (BSTR, TSTR) else None))
            if node is not None:
                node.end = pos
            continue
        if node is not None:
            node.end = pos
        if frame is not None and frame.remaining is not None:
            frame.remaining -= 1
        pos = _close_finished(stack, pos)
        if not stack:
            break
    assert root is not None
    return Scan(root, heads)


#: Majors whose definite items hold no other item: integers, strings, simple values and floats.
_LEAF_MAJORS = frozenset((UINT, NINT, BSTR, TSTR, SIMPLE))


def _close_finished(stack: list, pos: int) -> int:
    """Pop the definite containers whose last item was just read; count them as items of
    their parents."""
    while stack and stack[-1].remaining == 0:
        done = stack.pop()
        if done.node is not None:
            done.node.end = pos
        if stack and stack[-1].remaining is not None:
            stack[-1].remaining -= 1
    return pos


# --- values (cbor2 for numbers and simple values) ---------------------------------

class Deep:
    """Stands for content nested deeper than the walker keeps."""

    def __repr__(self) -> str:
        return "<nested too deeply to show>"


DEEP = Deep()


def string_bytes(data: bytes, node: Node) -> bytes:
    """The content of a byte or text string item, chunks joined."""
    if not node.head.indefinite:
        return bytes(data[node.head.end:node.end])
    return b"".join(bytes(data[c.head.end:c.end]) for c in node.children)


def leaf_value(data: bytes, node: Node) -> Any:
    """The value of a number, simple value or float, by cbor2."""
    import cbor2

    return cbor2.loads(bytes(data[node.head.offset:node.end]))


def to_python(data: bytes, node: Node) -> Any:
    """The item as Python values: ints, bytes, str (invalid UTF-8 kept with surrogate
    escapes), lists, dicts, ``cbor2.CBORTag`` for tags, cbor2's simple values and floats.
    Semantic tags are *not* interpreted (cbor2 would, and could fail or build cycles)."""
    value = _untagged(data, node)
    for tag in reversed(node.tags):
        import cbor2

        value = cbor2.CBORTag(tag.argument, value)
    return value


def _untagged(data: bytes, node: Node) -> Any:
    major = node.major
    if major == BSTR:
        return string_bytes(data, node)
    if major == TSTR:
        return string_bytes(data, node).decode("utf-8", "surrogateescape")
    if major == ARRAY:
        items = [to_python(data, child) for child in node.children]
        return items + [DEEP] if node.deep else items
    if major == MAP:
        result: dict = {}
        children = node.children
        for i in range(0, len(children) - 1, 2):
            result[hashable(to_python(data, children[i]))] = to_python(data, children[i + 1])
        if node.deep:
            result["..."] = DEEP
        return result
    return leaf_value(data, node)


def hashable(value: Any) -> Any:
    """A map key as a dict key: unhashable keys (arrays, maps) become their repr."""
    try:
        hash(value)
    except (TypeError, RuntimeError):  # cbor2.CBORTag raises RuntimeError
        return repr(value)
    return value
