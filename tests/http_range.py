"""One HTTP byte range as the test servers answer it (RFC 9110 section 14:
Range "bytes=first-[last]", 206 with Content-Range, 416 with "bytes */size"
past the end). Shared by tests/fetch_server.py and tests/models_server.py."""
import re


def byte_range(header, size):
    """(status, first, last) for a Range header (None: the whole file, 200);
    status 400 for a form the servers do not take (several ranges, suffixes),
    416 for a range past the end."""
    if not header:
        return 200, 0, size - 1
    m = re.fullmatch(r"bytes=(\d+)-(\d*)", header.strip())
    if not m:
        return 400, 0, -1
    first = int(m.group(1))
    last = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    if first >= size or last < first:
        return 416, 0, -1
    return 206, first, last
