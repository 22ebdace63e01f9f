"""Log files on disk: discovery under a root, content fingerprints, format sniffing, chunked reads.

Nothing here trusts a file: non-regular files are never opened, a symlink is followed only inside
the log folder and a folder walked once, a damaged compressed file yields the complete lines before
the damage (and says why it stopped), and a file's compression, text encoding and format are decided
by its content.

The work is split by concern: discovery.py walks the log folder (the symlink rules), content.py reads
a file's content (compression, encodings, a NUL head, chunks), digest.py fingerprints it and
sniffing.py decides its format. This module keeps the names callers import.
"""

from __future__ import annotations

from slo_assets.ingest.content import (
    BYTE_ORDER_MARKS,
    BZ2_BLOCK_MAGICS,
    CHUNK_BYTES,
    DECOMPRESS_ERRORS,
    GZIP_FEED_BYTES,
    GZIP_MAGIC,
    MAGIC_BYTES,
    READ_BYTES,
    SALVAGE_FEED_BYTES,
    UNPACK_FEED_BYTES,
    XZ_MAGIC,
    ZSTD_MAGIC,
    ZSTD_SKIPPABLE_MAGIC,
    ContentReport,
    compression,
    is_gzip,
    is_plain,
    iter_chunks,
    iter_content,
    read_range,
)
from slo_assets.ingest.digest import (
    DIGEST_BLOCK_BYTES,
    DIGEST_SEED,
    FINGERPRINT_VERSION,
    START_POINT,
    ChainPoint,
    ContentDigest,
    fingerprint,
    scan_plain,
)
from slo_assets.ingest.discovery import (
    SKIP_HIDDEN,
    SKIP_NOT_MATCHED,
    SKIP_SYMLINK,
    SKIP_SYMLINK_LOOP,
    SKIP_SYMLINK_OUTSIDE,
    Discovery,
    LogDiscoveryError,
    discover,
    discover_files,
    os_reason,
)
from slo_assets.ingest.sniffing import (
    BINARY_PROBE_BYTES,
    SKIP_BINARY,
    SKIP_BLANK,
    SKIP_EMPTY,
    SKIP_ONLY_NUL,
    SNIFF_LINE_KEEP,
    SNIFF_LINES,
    SNIFF_MAX_BYTES,
    TAR_MAGIC,
    TAR_MAGIC_AT,
    Sniff,
    sniff,
    sniff_format,
)

__all__ = [
    "BINARY_PROBE_BYTES", "BYTE_ORDER_MARKS", "BZ2_BLOCK_MAGICS", "CHUNK_BYTES", "DECOMPRESS_ERRORS", "DIGEST_BLOCK_BYTES", "DIGEST_SEED",
    "FINGERPRINT_VERSION", "GZIP_FEED_BYTES", "GZIP_MAGIC", "MAGIC_BYTES", "READ_BYTES", "SALVAGE_FEED_BYTES", "SKIP_BINARY", "SKIP_BLANK",
    "SKIP_EMPTY", "SKIP_HIDDEN", "SKIP_NOT_MATCHED", "SKIP_ONLY_NUL", "SKIP_SYMLINK", "SKIP_SYMLINK_LOOP", "SKIP_SYMLINK_OUTSIDE",
    "SNIFF_LINES", "SNIFF_LINE_KEEP", "SNIFF_MAX_BYTES", "START_POINT", "TAR_MAGIC", "TAR_MAGIC_AT", "UNPACK_FEED_BYTES", "XZ_MAGIC",
    "ZSTD_MAGIC", "ZSTD_SKIPPABLE_MAGIC", "ChainPoint", "ContentDigest", "ContentReport", "Discovery", "LogDiscoveryError", "Sniff",
    "compression", "discover", "discover_files", "fingerprint", "is_gzip", "is_plain", "iter_chunks", "iter_content", "os_reason",
    "read_range", "scan_plain", "sniff", "sniff_format",
]
