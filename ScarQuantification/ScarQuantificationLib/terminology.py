"""Standard codes of the segments (DICOM/Slicer terminology), shared by both modules.

Slicer keeps a segment's meaning in the segment tag "TerminologyEntry": seven `~`-separated
parts, each code a `^`-joined triplet (coding scheme, code value, code meaning):

    context name ~ category ~ type ~ type modifier ~ anatomic context name ~ anatomic region ~
    anatomic region modifier

The tag is read by Slicer 5.x (segment list, DICOM SEG export) and survives .seg.nrrd files.

Myocardium, blood pool (the left ventricle cavity) and scar have SNOMED CT codes. Core scar,
gray zone and no-reflow (microvascular obstruction) have none in the DICOM master lists, so they
carry local codes of this project under the private coding scheme LOCAL_SCHEME (DICOM reserves
designators beginning with "99" for local schemes, PS3.16 section 8.2); their category is Tissue
and their anatomic region the myocardium, so a reader that does not know the local code still
knows what kind of thing it is and where.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    scheme: str  # coding scheme designator: "SCT" (SNOMED CT) or LOCAL_SCHEME
    value: str
    meaning: str

    def triplet(self) -> str:
        return f"{self.scheme}^{self.value}^{self.meaning}"


@dataclass(frozen=True)
class SegmentCodes:
    category: Code
    type: Code
    region: Code | None = None  # anatomic region (where the tissue lies), if any


LOCAL_SCHEME = "99MYOSCAR"
TYPE_CONTEXT = "Segmentation category and type - DICOM master list"
REGION_CONTEXT = "Anatomic codes - DICOM master list"
TAG = "TerminologyEntry"  # vtkSegment::GetTerminologyEntryTagName()

ANATOMICAL_STRUCTURE = Code("SCT", "123037004", "Anatomical Structure")
TISSUE = Code("SCT", "85756007", "Tissue")
MYOCARDIUM = Code("SCT", "74281007", "Myocardium")

SEGMENT_CODES: dict[str, SegmentCodes] = {
    "Myocardium": SegmentCodes(ANATOMICAL_STRUCTURE, MYOCARDIUM),
    "Blood pool": SegmentCodes(ANATOMICAL_STRUCTURE, Code("SCT", "87878005", "Left ventricle")),
    "Scar": SegmentCodes(TISSUE, Code("SCT", "12402003", "Scar tissue"), MYOCARDIUM),
    # Local codes (no standard code exists); documented in README "Segments and their codes".
    "Core scar": SegmentCodes(TISSUE, Code(LOCAL_SCHEME, "CORESCAR", "Core scar"), MYOCARDIUM),
    "Gray zone": SegmentCodes(TISSUE, Code(LOCAL_SCHEME, "GRAYZONE", "Gray zone"), MYOCARDIUM),
    "No-reflow": SegmentCodes(
        TISSUE, Code(LOCAL_SCHEME, "NOREFLOW", "No-reflow (microvascular obstruction)"), MYOCARDIUM
    ),
}

_EMPTY = "^^"


def terminology_entry(name: str) -> str | None:
    """The TerminologyEntry tag value of a canonical segment name, None for any other name."""
    codes = SEGMENT_CODES.get(name)
    if codes is None:
        return None
    region = codes.region.triplet() if codes.region is not None else _EMPTY
    return "~".join(
        [
            TYPE_CONTEXT,
            codes.category.triplet(),
            codes.type.triplet(),
            _EMPTY,
            REGION_CONTEXT,
            region,
            _EMPTY,
        ]
    )


def parse_terminology_entry(text: str) -> SegmentCodes | None:
    """Category, type and region of a TerminologyEntry tag value (None if it has no type code)."""
    parts = text.split("~")
    if len(parts) != 7:
        return None

    def code(part: str) -> Code | None:
        fields = part.split("^")
        if len(fields) != 3 or not fields[0] or not fields[1]:
            return None
        return Code(*fields)

    category, type_, region = code(parts[1]), code(parts[2]), code(parts[5])
    if category is None or type_ is None:
        return None
    return SegmentCodes(category, type_, region)
