"""Just enough HPACK (RFC 7541) for one gRPC call: our request's literal header fields, and the answer's
grpc-status found through the server's dynamic table without a full Huffman decoder."""

from __future__ import annotations

# HPACK's Huffman codes (RFC 7541 appendix B) of "grpc-status" (as dockerd sends it) and of digits (code, bits).
STATUS_HUFFMAN = bytes.fromhex("9acac8b21234da8f")
DIGITS = {(d, 5): str(d) for d in range(3)} | {(0x16 + d, 6): str(d) for d in range(3, 10)}


class MalformedHeaders(Exception):
    """A header block that cannot be read; the text says why in one line."""


def encode_int(value: int, prefix: int, first: int) -> bytes:
    # HPACK integer: ``prefix`` bits in the first byte, then 7 bits a byte.
    top = (1 << prefix) - 1
    if value < top:
        return bytes((first | value,))
    out, value = bytearray((first | top,)), value - top
    while value >= 128:
        out.append(value % 128 | 128)
        value //= 128
    return bytes(out + bytes((value,)))


def literal(index: int, value: str, name: str = "") -> bytes:
    # Literal without indexing (static name index, or a new name): nothing for the server to remember.
    name_part = encode_int(len(name), 7, 0) + name.encode() if not index else b""
    return encode_int(index, 4, 0) + name_part + encode_int(len(value), 7, 0) + value.encode()


def _digits(raw: bytes) -> str | None:
    bits, out = "".join(f"{b:08b}" for b in raw), ""
    while len(bits) >= 8 or set(bits) - {"1"}:  # what may be left: EOS padding, under 8 bits, all ones
        n = next((n for n in (5, 6) if len(bits) >= n and (int(bits[:n], 2), n) in DIGITS), None)
        if n is None:
            return None
        out, bits = out + DIGITS[(int(bits[:n], 2), n)], bits[n:]
    return out


class Hpack:
    """Just enough HPACK to find grpc-status: dynamic-table indexes followed; other names are not decoded."""

    def __init__(self) -> None:
        self.table: list[tuple[bytes, bytes, int]] = []  # (name, value, name's decoded length bound), newest first
        self.size, self.limit, self.unsure = 0, 4096, False

    def block(self, data: bytes) -> dict[bytes, bytes]:
        fields, at = {}, 0
        while at < len(data):
            b = data[at]
            if b & 0x80:
                index, at = self._int(data, at, 7)
                fields.update([self._entry(index)[:2]])
            elif b & 0xE0 == 0x20:  # the server resizes its table (never above the 4096 we allow)
                self.limit, at = self._int(data, at, 5)
                self.limit = min(self.limit, 4096)
                self.unsure = self.unsure or self.size > self.limit
            else:
                keep = b & 0xC0 == 0x40
                index, at = self._int(data, at, 6 if keep else 4)
                if index:
                    name, _, bound = self._entry(index)
                else:
                    name, at, bound = self._string(data, at)
                value, at, size = self._string(data, at)
                fields[name] = value
                if keep and not self.unsure:  # entry sizes count decoded lengths: for undecoded Huffman, bounds
                    self.table.insert(0, (name, value, bound))
                    self.size += 32 + bound + size
                    self.unsure = self.unsure or self.size > self.limit  # which entries went is unknown
        return fields

    def _int(self, data: bytes, at: int, prefix: int) -> tuple[int, int]:
        top = (1 << prefix) - 1
        value, at, shift = data[at] & top, at + 1, 0
        if value < top:
            return value, at
        while True:
            if at >= len(data) or shift > 28:
                raise MalformedHeaders("malformed header block")
            value, at, shift = value + ((data[at] & 127) << shift), at + 1, shift + 7
            if not data[at - 1] & 128:
                return value, at

    def _string(self, data: bytes, at: int) -> tuple[bytes, int, int]:
        """(the string, where the next field starts, an upper bound of its decoded length)."""
        if at >= len(data):
            raise MalformedHeaders("malformed header block")
        huffman = bool(data[at] & 0x80)
        length, at = self._int(data, at, 7)
        raw = data[at:at + length]
        if len(raw) != length:
            raise MalformedHeaders("malformed header block")
        if not huffman:
            return raw, at + length, length
        if raw == STATUS_HUFFMAN:
            return b"grpc-status", at + length, 11
        digits = _digits(raw) if length <= 4 else None  # a status code: a few digits, never a long string
        # Other Huffman text is not decoded (a placeholder keeps its place); the shortest code has 5 bits.
        return (digits.encode() if digits is not None else b":huffman"), at + length, length * 8 // 5

    def _entry(self, index: int) -> tuple[bytes, bytes, int]:
        if index <= 0:
            raise MalformedHeaders("malformed header block (index 0)")
        if index <= 61:
            return b":static", b"", 64  # the static table holds no gRPC names (the longest has 27 bytes)
        if index - 62 < len(self.table) and not self.unsure:
            return self.table[index - 62]
        return b":unknown", b"", 4096
