"""Is all of an image file's voxel data there? Checked before SimpleITK reads it.

A file cut short (an interrupted copy or download) must not become an image with black slices:
ITK fills what is missing of a gzip-compressed NIfTI with zeros without a word, and says
"No such file or directory" for a MetaImage that ends early. So the data is counted here: a
compressed stream is decompressed to its end (it must end properly, with its checksum, and hold
as many bytes as the header's size needs); an uncompressed file must be as long as its header
says. Formats or encodings not covered (NRRD ascii/hex, lists of slice files, data "at the end
of the file") are left to the reader.
"""

from __future__ import annotations

import bz2
import gzip
import re
import zlib
from pathlib import Path

import numpy as np

from ..errors import InputError

CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
# NIfTI datatype code -> bytes per voxel (when bitpix is unusable)
_NIFTI_BYTES = {2: 1, 4: 2, 8: 4, 16: 4, 32: 8, 64: 8, 128: 3, 256: 1, 512: 2, 768: 4, 1024: 8}
_NRRD_TYPES = {
    1: ("signed char", "int8", "int8_t", "uchar", "unsigned char", "uint8", "uint8_t"),
    2: ("short", "short int", "signed short", "signed short int", "int16", "int16_t", "ushort")
    + ("unsigned short", "unsigned short int", "uint16", "uint16_t"),
    4: ("int", "signed int", "int32", "int32_t", "uint", "unsigned int", "uint32", "uint32_t")
    + ("float",),
    8: ("longlong", "long long", "long long int", "signed long long", "signed long long int")
    + ("int64", "int64_t", "ulonglong", "unsigned long long", "unsigned long long int")
    + ("uint64", "uint64_t", "double"),
}
_MET_BYTES = {"MET_CHAR": 1, "MET_UCHAR": 1, "MET_SHORT": 2, "MET_USHORT": 2, "MET_INT": 4}
_MET_BYTES |= {"MET_UINT": 4, "MET_LONG": 4, "MET_ULONG": 4, "MET_LONG_LONG": 8}
_MET_BYTES |= {"MET_ULONG_LONG": 8, "MET_FLOAT": 4, "MET_DOUBLE": 8}


def check_data_complete(path: Path | str) -> None:
    """Raise InputError if the voxel data of this NIfTI / NRRD / MetaImage file is incomplete."""
    path = Path(path)
    name = path.name.lower()
    try:
        if name.endswith((".nii", ".nii.gz")):
            _check_nifti(path)
        elif name.endswith((".nrrd", ".nhdr")):
            _check_nrrd(path)
        elif name.endswith((".mha", ".mhd")):
            _check_metaimage(path)
    except OSError as exc:
        raise InputError(f"cannot read image file {path}: {exc.strerror or exc}") from None


# --- counting bytes ----------------------------------------------------------------------------


class _Damaged(Exception):
    """The compressed stream is corrupt or ends before its end marker."""


def _gzip_size(path: Path, offset: int = 0) -> int:
    """Bytes in the gzip stream(s) from offset to the end of the file; _Damaged if cut or corrupt."""
    with open(path, "rb") as raw:
        raw.seek(offset)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                total = 0
                while chunk := f.read(CHUNK):
                    total += len(chunk)
                return total
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise _Damaged(str(exc)) from None


def _zlib_size(path: Path, offset: int, compressed: int | None = None) -> int:
    """Bytes of a zlib (or gzip) stream at offset; _Damaged if it does not reach its end marker."""
    d = zlib.decompressobj(wbits=47)  # 32 + 15: zlib or gzip header, detected
    total = 0
    with open(path, "rb") as f:
        f.seek(offset)
        left = compressed
        try:
            while not d.eof:
                chunk = f.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    break
                if left is not None:
                    left -= len(chunk)
                total += len(d.decompress(chunk))
        except zlib.error as exc:
            raise _Damaged(str(exc)) from None
    if not d.eof:
        raise _Damaged("the compressed data ends before its end marker")
    return total


def _bz2_size(path: Path, offset: int) -> int:
    d = bz2.BZ2Decompressor()
    total = 0
    with open(path, "rb") as f:
        f.seek(offset)
        try:
            while not d.eof and (chunk := f.read(CHUNK)):
                total += len(d.decompress(chunk))
        except OSError as exc:
            raise _Damaged(str(exc)) from None
    if not d.eof:
        raise _Damaged("the compressed data ends before its end marker")
    return total


def _refuse_damaged(path: Path, detail: str) -> InputError:
    return InputError(
        f"damaged image file {path}: its compressed data is corrupt or ends early ({detail}); "
        "the file was probably cut short (interrupted copy or download): copy it again"
    )


def _refuse_short(path: Path, have: int, need: int, what: str) -> InputError:
    return InputError(
        f"damaged image file {path}: shorter than its header says ({what}: {have} bytes of "
        f"voxel data where the header's image size and type need {need}, {need - have} "
        "missing); the file was probably cut short (interrupted copy or download): copy it again"
    )


# --- NIfTI ---------------------------------------------------------------------------------------


def _nifti_layout(head: bytes) -> tuple[int, int] | None:
    """(vox_offset, data bytes) from a NIfTI-1 or NIfTI-2 header, or None if it is not one."""
    for order in "<>":
        if len(head) >= 348 and int(np.frombuffer(head[:4], f"{order}i4")[0]) == 348:
            dim = np.frombuffer(head[40:56], f"{order}i2").astype(np.int64)
            datatype = int(np.frombuffer(head[70:72], f"{order}i2")[0])
            bitpix = int(np.frombuffer(head[72:74], f"{order}i2")[0])
            offset = float(np.frombuffer(head[108:112], f"{order}f4")[0])
            single = head[344:347] == b"n+1"
            header_bytes = 348
        elif len(head) >= 540 and int(np.frombuffer(head[:4], f"{order}i4")[0]) == 540:
            datatype = int(np.frombuffer(head[12:14], f"{order}i2")[0])
            bitpix = int(np.frombuffer(head[14:16], f"{order}i2")[0])
            dim = np.frombuffer(head[16:80], f"{order}i8")
            offset = float(np.frombuffer(head[168:176], f"{order}i8")[0])
            single = head[4:7] == b"n+2"
            header_bytes = 540
        else:
            continue
        ndim = int(dim[0])
        if not single or not 1 <= ndim <= 7 or any(d < 1 for d in dim[1 : ndim + 1]):
            return None  # a .hdr/.img pair or a header the reader will refuse anyway
        voxel_bits = bitpix if bitpix > 0 else 8 * _NIFTI_BYTES.get(datatype, 0)
        voxels = int(np.prod(dim[1 : ndim + 1]))
        return max(int(offset), header_bytes), voxels * voxel_bits // 8
    return None


def _check_nifti(path: Path) -> None:
    with open(path, "rb") as f:
        compressed = f.read(2) == GZIP_MAGIC
    if compressed:
        try:
            with gzip.open(path, "rb") as f:
                head = f.read(540)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise _refuse_damaged(path, str(exc)) from None
    else:
        with open(path, "rb") as f:
            head = f.read(540)
    layout = _nifti_layout(head)
    if layout is None:
        return  # not NIfTI: SimpleITK's reader names the problem
    offset, need = layout
    if compressed:
        try:
            total = _gzip_size(path)
        except _Damaged as exc:
            raise _refuse_damaged(path, str(exc)) from None
        what = "after decompression"
    else:
        total = path.stat().st_size
        what = "file size"
    have = max(total - offset, 0)
    if have < need:
        raise _refuse_short(path, have, need, what)


# --- NRRD ----------------------------------------------------------------------------------------


def _text_fields(path: Path, separator: str, last_key: str | None) -> tuple[dict[str, str], int]:
    """Header fields (lower-case keys) and the byte offset where the header ends."""
    with open(path, "rb") as f:
        raw = f.read(1 << 16)
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(raw):
        end = raw.find(b"\n", pos)
        if end < 0:
            return fields, len(raw)
        line = raw[pos:end].decode("latin-1").rstrip("\r")
        pos = end + 1
        if last_key is None and not line.strip():
            return fields, pos  # NRRD: a blank line ends the header
        if separator in line and not line.startswith("#"):
            key, value = line.split(separator, 1)
            fields[key.strip().lower()] = value.strip()
            if last_key is not None and key.strip().lower() == last_key:
                return fields, pos  # MetaImage: ElementDataFile is the last field
    return fields, pos


def _check_nrrd(path: Path) -> None:
    fields, header_end = _text_fields(path, ":", None)
    try:
        sizes = [int(v) for v in fields["sizes"].split()]
        type_bytes = next(n for n, names in _NRRD_TYPES.items() if fields["type"] in names)
    except (KeyError, ValueError, StopIteration):
        return
    encoding = fields.get("encoding", "raw").lower()
    line_skip = int(fields.get("line skip", fields.get("lineskip", "0")) or 0)
    byte_skip = int(fields.get("byte skip", fields.get("byteskip", "0")) or 0)
    datafile = fields.get("data file", fields.get("datafile"))
    if byte_skip < 0 or line_skip or encoding not in ("raw", "gzip", "gz", "bzip2", "bz2"):
        return
    if datafile is None:
        data, offset = path, header_end
    elif re.search(r"\s|%|^list$", datafile, re.I):
        return  # several data files
    else:
        data = (path.parent / datafile) if not Path(datafile).is_absolute() else Path(datafile)
        if not data.is_file():
            raise InputError(f"cannot read image file {path}: its data file {data} is missing")
        offset = 0
    need = int(np.prod(sizes)) * type_bytes
    try:
        if encoding in ("gzip", "gz"):
            have, what = _gzip_size(data, offset) - byte_skip, "after decompression"
        elif encoding in ("bzip2", "bz2"):
            have, what = _bz2_size(data, offset) - byte_skip, "after decompression"
        else:
            have, what = data.stat().st_size - offset - byte_skip, "file size"
    except _Damaged as exc:
        raise _refuse_damaged(data, str(exc)) from None
    if have < need:
        raise _refuse_short(data, max(have, 0), need, what)


# --- MetaImage ---------------------------------------------------------------------------------


def _check_metaimage(path: Path) -> None:
    fields, header_end = _text_fields(path, "=", "elementdatafile")
    try:
        sizes = [int(v) for v in fields["dimsize"].split()]
        type_bytes = _MET_BYTES[fields["elementtype"].upper()]
        channels = int(fields.get("elementnumberofchannels", "1") or 1)
        datafile = fields["elementdatafile"]
    except (KeyError, ValueError):
        return
    header_size = int(fields.get("headersize", "0") or 0)
    compressed = fields.get("compresseddata", "false").lower() == "true"
    if header_size < 0 or re.search(r"\s|%|^list$", datafile, re.I):
        return  # data at the end of the file, or one file per slice
    if datafile.upper() == "LOCAL":
        data, offset = path, header_end
    else:
        data = (path.parent / datafile) if not Path(datafile).is_absolute() else Path(datafile)
        if not data.is_file():
            raise InputError(f"cannot read image file {path}: its data file {data} is missing")
        offset = header_size
    need = int(np.prod(sizes)) * type_bytes * channels
    try:
        if compressed:
            size = fields.get("compresseddatasize")
            limit = int(size) if size and size.isdigit() else None
            have, what = _zlib_size(data, offset, limit), "after decompression"
        else:
            have, what = data.stat().st_size - offset, "file size"
    except _Damaged as exc:
        raise _refuse_damaged(data, str(exc)) from None
    if have < need:
        raise _refuse_short(data, max(have, 0), need, what)
