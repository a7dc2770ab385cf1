"""Discourse's upload pipeline, as a default forum applies it to a file sent to POST /uploads.json.

Modelled on the newest generation of `UploadCreator#create_for` (the libvips/`DiscourseImage`
rewrite, the strictest one: every non-animated PNG of 75 000 bytes or more gets a JPEG attempt),
then `UploadValidator`, `Upload`'s URLs and the orphan clean-up job. docs/DISCOURSE-FIDELITY.md
("Uploads") names the Discourse source of every rule and what is not modelled.

The image steps use Pillow as a stand-in for Discourse's libvips/ImageMagick/oxipng: the pixel
operations (flatten onto white, JPEG at a quality, halve, re-encode losslessly) are the same,
the exact bytes are not. Pillow is a test dependency only.

Everything here is a pure function of (bytes, file name, settings) except `UploadStore`, the small
in-memory table of stored uploads that `Forum` keeps.
"""
from __future__ import annotations

import hashlib
import html.parser
import io
import math
import re
import string
import threading
import time
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from PIL import Image, ImageOps, PngImagePlugin

# UploadCreator's constants
MIN_CONVERT_TO_JPEG_BYTES_SAVED = 75_000
MIN_CONVERT_TO_JPEG_SAVING_RATIO = 0.70
MAX_PNG_PIXELS_TO_OPTIMIZE = 2_000_000      # should_optimize?: "Safeguard for large PNGs"
DOWNSIZE_ROUNDS = 3                          # downsize!: 3.times, each halving the dimensions

# FileHelper.supported_images: what counts as an image by name or by sniffed type
SUPPORTED_IMAGES = frozenset({"jpg", "jpeg", "png", "gif", "svg", "ico", "webp", "avif"})
# FileHelper.inline_images: SVG is never shown inline
INLINE_IMAGES = SUPPORTED_IMAGES - {"svg"}

# The alphabet of the `base62` gem as Upload.base62_sha1 uses it: digits, then lower case, then
# upper case (checked against short URLs and SHA-1s of real Discourse posts).
BASE62_ALPHABET = string.digits + string.ascii_lowercase + string.ascii_uppercase
SHA1_LENGTH = 40

# English texts of config/locales/server.en.yml ("upload:" section, and invalid_params)
T = {
    "unauthorized": "Sorry, the file you are trying to upload is not authorized (authorized extensions: "
                    "{authorized_extensions}).",
    "file_missing": "Sorry, you must provide a file to upload.",
    "empty": "Sorry, but the file you provided is empty.",
    "png_to_jpg_conversion_failure_message": "An error happened when converting from PNG to JPG.",
    "optimize_failure_message": "An error occurred while optimizing the uploaded image.",
    "attachments.too_large": "Sorry, the file you are trying to upload is too big (maximum size is {max_size_kb}KB).",
    "images.too_large": "Sorry, the image you are trying to upload is too big (maximum size is {max_size_kb}KB), "
                        "please resize it and try again.",
    "images.too_large_humanized": "Sorry, the image you are trying to upload is too big (maximum size is "
                                  "{max_size}), please resize it and try again.",
    "images.larger_than_x_megapixels": "Sorry, the image with filename {original_filename} is too large (maximum "
                                       "dimension is {max_image_megapixels} megapixels), please resize it and try "
                                       "again.",
    "images.size_not_found": "Sorry, but we couldn't determine the size of the image. Maybe your image is corrupted?",
    # the key is Discourse's; this text is not confirmed (the server.en.yml read lacks it)
    "images.not_supported_or_corrupted": "Sorry, but the image you provided is not supported or is corrupted.",
}

# MiniMime's content types for the extensions a default forum stores (send_file_local_upload)
CONTENT_TYPES = {
    "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp",
    "avif": "image/avif", "ico": "image/vnd.microsoft.icon", "svg": "image/svg+xml", "heic": "image/heic",
    "heif": "image/heif", "bmp": "image/bmp", "tif": "image/tiff", "tiff": "image/tiff", "pdf": "application/pdf",
    "txt": "text/plain", "zip": "application/zip", "json": "application/json", "csv": "text/csv",
}

# Pillow's format names → the type names Discourse's sniffers give (FastImage / DiscourseImage.type)
_PIL_TYPES = {"PNG": "png", "JPEG": "jpeg", "MPO": "jpeg", "GIF": "gif", "WEBP": "webp", "ICO": "ico",
              "BMP": "bmp", "TIFF": "tiff", "AVIF": "avif"}
# ISO-BMFF brands (DiscourseImage.sniff_extension)
_FTYP_BRANDS = {"avif": "avif", "avis": "avif", "heic": "heic", "heix": "heic", "hevc": "heic", "hevx": "heic",
                "mif1": "heif", "msf1": "heif"}
_SVG_PREFIX = re.compile(r"\A(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!doctype\s+svg\b[^>]*>\s*)?(?:<!--.*?-->\s*)*"
                         r"<svg(?:\s|>)", re.S)


class UploadRefused(Exception):
    """The upload is not stored. `errors`: Discourse's messages (422 {"errors": [...]}); `failed`:
    the controller's rescue answer instead (422 {"failed": "FAILED", "message": ...})."""

    def __init__(self, errors: list[str], failed: bool = False):
        super().__init__("; ".join(errors))
        self.errors = errors
        self.failed = failed

    def body(self) -> dict:
        if self.failed:
            return {"failed": "FAILED", "message": self.errors[0]}
        return {"errors": self.errors}


# ----------------------------------------------------------------------------- names and URLs

def base62_sha1(sha1: str) -> str:
    """Upload.base62_sha1: the SHA-1 (hex) as a base62 number."""
    n = int(sha1, 16)
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = BASE62_ALPHABET[r] + out
    return out or BASE62_ALPHABET[0]


def sha1_from_base62(encoded: str) -> str | None:
    """Upload.sha1_from_base62_encoded: back to 40 hex digits (None when it cannot be a SHA-1)."""
    n = 0
    for ch in encoded:
        i = BASE62_ALPHABET.find(ch)
        if i < 0:
            return None
        n = n * 62 + i
    sha1 = format(n, "x")
    return None if len(sha1) > SHA1_LENGTH else sha1.rjust(SHA1_LENGTH, "0")


def _with_extension(name: str, extension: str | None) -> str:
    return f"{name}.{extension}" if extension else name


def short_url(sha1: str, extension: str | None) -> str:
    """Upload#short_url."""
    return "upload://" + _with_extension(base62_sha1(sha1), extension)


def short_path(sha1: str, extension: str | None, base_path: str = "") -> str:
    """Upload.short_path: the `upload_short` route's path, under Rails' relative_url_root (the
    subfolder of a subfolder install)."""
    return f"{base_path}/uploads/short-url/" + _with_extension(base62_sha1(sha1), extension)


def original_path(upload_id: int, sha1: str, extension: str | None, base_path: str = "") -> str:
    """The local store's URL of an original: FileStore::BaseStore#get_path_for ("original/<depth+1>X/"
    then the first `depth` hex digits of the SHA-1 as folders), under LocalStore#relative_base_url
    (base path + "/uploads/default")."""
    depth = max(0, math.ceil(math.log(upload_id / 1000.0, 16))) if upload_id > 0 else 0
    tree = "".join(f"{c}/" for c in sha1[:depth])
    ext = f".{extension}" if extension else ""
    return f"{base_path}/uploads/default/original/{depth + 1}X/{tree}{sha1}{ext}"


def human_filesize(n: int) -> str:
    """Rails' number_to_human_size, as Upload#human_filesize uses it: base 1024, three significant
    digits, insignificant zeros stripped."""
    if n < 1024:
        return f"{n} {'Byte' if n == 1 else 'Bytes'}"
    units = ["KB", "MB", "GB", "TB", "PB"]
    exp = min(int(math.log(n, 1024)), len(units))
    value = Decimal(n) / (Decimal(1024) ** exp)
    digits = 3 - (value.adjusted() + 1)          # decimals left for three significant digits
    rounded = value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    text = format(rounded, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} {units[exp - 1]}"


def thumbnail_size(width: int | None, height: int | None, max_width: int, max_height: int):
    """ImageSizer.resize: the size a post shows the image at (max_image_width × max_image_height)."""
    if not width or not height:
        return None, None
    if width <= max_width and height <= max_height:
        return width, height
    ratio = min(max_width / width, max_height / height)
    return math.floor(width * ratio), math.floor(height * ratio)


def content_type(filename: str) -> str:
    return CONTENT_TYPES.get(file_extension(filename).lower(), "application/octet-stream")


def file_extension(filename: str) -> str:
    """Ruby's File.extname without the dot ("" when none; a leading dot alone is no extension)."""
    base = filename.rsplit("/", 1)[-1]
    stem = base.lstrip(".")
    return stem.rsplit(".", 1)[1] if "." in stem and not stem.endswith(".") else ""


def is_supported_image(filename: str) -> bool:
    return file_extension(filename).lower() in SUPPORTED_IMAGES


def is_inline_image(filename: str) -> bool:
    return file_extension(filename).lower() in INLINE_IMAGES


# ----------------------------------------------------------------------------- sniffing

@dataclass
class ImageInfo:
    type: str | None                 # "png", "jpeg", "gif", "webp", "ico", "svg", "heic", ... or None
    width: int = 0
    height: int = 0
    animated: bool = False
    orientation: int = 1             # EXIF orientation (1 = normal)

    @property
    def pixels(self) -> int:
        return self.width * self.height


def sniff(data: bytes) -> ImageInfo:
    """The image type and size from the content alone (DiscourseImage.type / .size): the name of
    the file plays no part."""
    head = data[:4096]
    if head.startswith(b"\x00\x00\x00\x0cJXL \r\n\x87\n") or head.startswith(b"\xff\x0a"):
        return ImageInfo("jxl")
    if len(head) >= 12 and head[4:8] == b"ftyp":
        for brand in re.findall(rb"[A-Za-z0-9]{4}", head[8:72]):
            kind = _FTYP_BRANDS.get(brand.decode())
            if kind == "avif":
                break                     # Pillow may read AVIF: sized below
            if kind:
                return ImageInfo(kind)
    text = head.decode("utf-8", "replace").lstrip("\ufeff").lstrip().lower()
    if _SVG_PREFIX.match(text):
        return ImageInfo("svg")
    try:
        with Image.open(io.BytesIO(data)) as img:
            kind = _PIL_TYPES.get(img.format or "")
            if not kind:
                return ImageInfo(None)
            orientation = 1
            try:
                orientation = int(img.getexif().get(0x0112, 1) or 1)
            except Exception:
                pass
            return ImageInfo(kind, img.width, img.height, bool(getattr(img, "is_animated", False)), orientation)
    except Image.DecompressionBombError:
        # so many pixels that Pillow refuses to open it: far above max_image_megapixels anyway
        return ImageInfo("png", 1 << 20, 1 << 20)
    except Exception:
        return ImageInfo(None)


# ----------------------------------------------------------------------------- the image steps

def _has_transparency(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info


def _greyscale(img: Image.Image) -> bool:
    return img.mode in ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F")


def _to_8bit_grey(img: Image.Image) -> Image.Image:
    if img.mode in ("I", "I;16", "I;16B", "I;16L"):
        return img.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    return img.convert("L")


def flatten_on_white(img: Image.Image) -> Image.Image:
    """The JPEG conversion's "-background white -flatten": transparent pixels become white; a
    greyscale image stays greyscale (one channel), anything else becomes RGB."""
    grey = _greyscale(img)
    if _has_transparency(img):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat = Image.alpha_composite(white, rgba).convert("RGB")
        return flat.convert("L") if grey else flat
    if grey:
        return _to_8bit_grey(img)
    return img.convert("RGB")


def encode_jpeg(img: Image.Image, quality: int) -> bytes:
    """A JPEG at `quality`. libvips and ImageMagick use no chroma subsampling from quality 90 up;
    Huffman tables are optimised (the smaller, so the stricter, candidate)."""
    out = io.BytesIO()
    img.save(out, "JPEG", quality=int(quality), subsampling=0 if quality >= 90 else 2, optimize=True)
    return out.getvalue()


def png_to_jpeg(data: bytes, quality: int) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return encode_jpeg(flatten_on_white(img), quality)


def recompress_jpeg(data: bytes, quality: int) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return encode_jpeg(img if img.mode in ("L", "RGB") else flatten_on_white(img), quality)


def keep_jpeg_candidate(original_size: int, candidate_size: int) -> bool:
    """UploadCreator#keep_jpeg_candidate: the JPEG replaces the original only when it is smaller
    than 0.70 × the original and saves more than 75 000 bytes."""
    return (candidate_size < original_size * MIN_CONVERT_TO_JPEG_SAVING_RATIO
            and original_size - candidate_size > MIN_CONVERT_TO_JPEG_BYTES_SAVED)


def optimize_png_losslessly(data: bytes, strip_metadata: bool) -> bytes:
    """oxipng through image_optim (pngquant off for originals): the same pixels in the smallest
    encoding found, ancillary chunks stripped when strip_image_metadata is on. image_optim keeps
    the original when no worker made it smaller."""
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        params: dict = {"optimize": True}
        if "transparency" in img.info:
            params["transparency"] = img.info["transparency"]
        if strip_metadata:
            params["icc_profile"] = None          # no iCCP; Pillow writes no text/eXIf/pHYs unless asked
        else:
            info = PngImagePlugin.PngInfo()
            for k, v in (img.text or {}).items():
                info.add_text(k, v)
            params["pnginfo"] = info
            if img.info.get("exif"):
                params["exif"] = img.info["exif"]
            if img.info.get("dpi"):
                params["dpi"] = img.info["dpi"]
        out = io.BytesIO()
        img.save(out, "PNG", **params)
    candidate = out.getvalue()
    return candidate if len(candidate) < len(data) else data


def _save_like(img: Image.Image, kind: str) -> bytes:
    out = io.BytesIO()
    if kind == "jpeg":
        (img if img.mode in ("L", "RGB", "CMYK") else flatten_on_white(img)).save(out, "JPEG", quality=90)
    elif kind == "png":
        img.save(out, "PNG", optimize=True)
    elif kind == "webp":
        img.save(out, "WEBP", quality=90)
    elif kind == "gif":
        img.save(out, "GIF")
    else:
        img.save(out, "PNG")
    return out.getvalue()


def halve(data: bytes, kind: str) -> bytes:
    """downsize!'s resize to 50% (interpolated: a 1-bit image becomes shades of grey)."""
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        if img.mode in ("1", "P"):
            img = img.convert("RGBA" if _has_transparency(img) else ("L" if img.mode == "1" else "RGB"))
        size = (max(1, round(img.width * 0.5)), max(1, round(img.height * 0.5)))
        return _save_like(img.resize(size, Image.Resampling.LANCZOS), kind)


def with_one_pixel_changed(data: bytes) -> bytes:
    """The same image with its first pixel inverted, re-encoded in its own format (what a hostile or
    broken store does that a lossy step would do too)."""
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        kind = (img.format or "png").lower()
        img = img.convert("L") if img.mode == "1" else img.copy()
        px = img.getpixel((0, 0))
        img.putpixel((0, 0), tuple(255 - c for c in px) if isinstance(px, tuple) else 255 - px)
        return _save_like(img, "jpeg" if kind == "jpeg" else kind)


def normalize_orientation(data: bytes, kind: str) -> bytes:
    """normalize_orientation!: the pixels turned as the EXIF orientation says, re-encoded."""
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return _save_like(ImageOps.exif_transpose(img), kind)


def favicon_to_png(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        out = io.BytesIO()
        img.save(out, "PNG")
        return out.getvalue()


def dominant_color(data: bytes) -> str:
    """Upload#calculate_dominant_color!: the image averaged down to one pixel, as RRGGBB ("" when
    it cannot be read)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            if img.mode == "1":
                img = img.convert("L")                    # a box filter needs levels, not bits
            elif img.mode not in ("L", "LA", "RGB", "RGBA"):
                img = img.convert("RGBA")
            r, g, b = img.resize((1, 1), Image.Resampling.BOX).convert("RGB").getpixel((0, 0))
            return f"{r:02X}{g:02X}{b:02X}"
    except Exception:
        return ""


def pixels_of(data: bytes) -> bytes:
    """The decoded pixel values (greyscale images as 0-255 levels, others as RGBA), for tests
    comparing pixels across encodings."""
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        grey = _greyscale(img) and not _has_transparency(img)
        return (_to_8bit_grey(img) if grey else img.convert("RGBA")).tobytes()


# ----------------------------------------------------------------------------- the pipeline

@dataclass
class Processed:
    data: bytes
    filename: str                    # the original file name, its extension corrected to the sniffed type
    extension: str | None            # Upload#extension: the image type ("png", "jpeg") or the name's
    is_image: bool
    width: int | None = None
    height: int | None = None
    animated: bool = False
    steps: list[str] = field(default_factory=list)   # what changed the file, for tests and the log

    @property
    def sha1(self) -> str:
        return hashlib.sha1(self.data).hexdigest()


def corrected_filename(filename: str, image_type: str) -> str:
    """create_for's fixed_original_filename: the extension replaced by the sniffed type's (jpeg as
    .jpg); the name without its extension, or "image" when nothing is left."""
    current = file_extension(filename).lower().replace("jpeg", "jpg", 1)
    current = f".{current}" if current else ""
    expected = f".{image_type}".lower().replace("jpeg", "jpg", 1)
    if current == expected:
        return filename
    base = filename.rsplit("/", 1)[-1]
    if current and base.endswith(current) and base != current:
        base = base[: -len(current)]
    return (base or "image") + expected


def process(data: bytes, filename: str, settings: dict, for_site_setting: bool = False) -> Processed:
    """UploadCreator#create_for up to the stored file: sniff, convert, optimise, downsize, refuse.
    Raises UploadRefused with Discourse's messages."""
    if len(data) <= 0:
        raise UploadRefused([T["empty"]])
    info = sniff(data)
    is_image = is_supported_image(filename) or bool(info.type and info.type in SUPPORTED_IMAGES)
    steps: list[str] = []
    if info.type in ("heic", "heif"):
        # convert_heif!: always to JPEG. Pillow cannot decode HEIF here, so the stand-in answers as
        # Discourse does when that conversion fails.
        raise UploadRefused([T["png_to_jpg_conversion_failure_message"]], failed=True)
    if not is_image:
        ext = file_extension(filename)[:10] or None
        return Processed(data, filename, ext, False, steps=steps)

    max_size = int(settings["max_image_size_kb"]) * 1024
    max_pixels = int(settings["max_image_megapixels"]) * 1_000_000

    def check(info: ImageInfo) -> None:
        """extract_image_info!, run after every step that rewrote the file."""
        if info.type is None:
            raise UploadRefused([T["images.not_supported_or_corrupted"]])
        if info.pixels == 0 and info.type != "svg":
            raise UploadRefused([T["images.size_not_found"]])
        if info.type != "svg" and max_pixels > 0 and info.pixels >= max_pixels:
            raise UploadRefused([T["images.larger_than_x_megapixels"].format(
                max_image_megapixels=settings["max_image_megapixels"], original_filename=filename)])

    check(info)
    kind = info.type
    if kind == "svg":
        pass                                       # clean_svg! (not modelled: svg is not authorized by default)
    elif kind == "ico":
        data = favicon_to_png(data)                # convert_favicon_to_png!
        info = sniff(data)
        check(info)
        kind = info.type
        steps.append("ico→png")
    else:
        quality = min(int(settings["png_to_jpg_quality"]), int(settings["recompress_original_jpg_quality"]))
        eligible = not for_site_setting and len(data) >= MIN_CONVERT_TO_JPEG_BYTES_SAVED
        if kind == "jpeg" and not info.animated and int(settings["recompress_original_jpg_quality"]) < 100 \
                and eligible:
            # recompress_jpeg!: re-encoded at the recompress quality, kept by the same rule
            candidate = recompress_jpeg(data, int(settings["recompress_original_jpg_quality"]))
            if keep_jpeg_candidate(len(data), len(candidate)):
                data = candidate
                steps.append("jpeg recompressed")
                info = sniff(data)
                check(info)
        if kind == "png" and not info.animated and int(settings["png_to_jpg_quality"]) < 100 and eligible:
            # convert_png_to_jpeg? / convert_to_jpeg!: no pixel threshold, no transparency check
            candidate = png_to_jpeg(data, quality)
            if keep_jpeg_candidate(len(data), len(candidate)):
                data = candidate
                steps.append("png→jpeg")
                info = sniff(data)
                check(info)
                kind = info.type
        if info.orientation > 1:
            data = normalize_orientation(data, kind)          # normalize_orientation!
            info = sniff(data)
            check(info)
            steps.append("orientation normalised")
        if kind == "png" and info.pixels < MAX_PNG_PIXELS_TO_OPTIMIZE:
            optimized = optimize_png_losslessly(data, bool(settings["strip_image_metadata"]))   # optimize!
            if optimized != data:
                data = optimized
                info = sniff(data)
                check(info)
                steps.append("png optimised losslessly")
        if max_size > 0 and len(data) >= max_size and not info.animated:
            # downsize!: halve, up to three times, until small enough or no longer shrinking
            try:
                for _ in range(DOWNSIZE_ROUNDS):
                    before = len(data)
                    data = halve(data, kind)
                    info = sniff(data)
                    check(info)
                    steps.append("halved")
                    if len(data) >= before or info.pixels == 0 or len(data) < max_size:
                        break
            except UploadRefused:
                raise
            except Exception:
                raise UploadRefused([T["optimize_failure_message"]])
        # is_still_too_big?
        if max_pixels > 0 and info.pixels >= max_pixels:
            raise UploadRefused([T["images.larger_than_x_megapixels"].format(
                max_image_megapixels=settings["max_image_megapixels"], original_filename=filename)])
        if max_size > 0 and len(data) >= max_size:
            raise UploadRefused([T["images.too_large_humanized"].format(max_size=human_filesize(max_size))])
    return Processed(data, corrected_filename(filename, kind), kind, True, info.width if kind != "svg" else 0,
                     info.height if kind != "svg" else 0, info.animated, steps)


def extension_list(value: str) -> list[str]:
    """UploadValidator#extensions_to_set, in the setting's order: "|"-separated, dots and spaces
    dropped, entries with "*" left out."""
    out: list[str] = []
    for e in re.sub(r"[\s.]+", "", value or "").lower().split("|"):
        if e and "*" not in e and e not in out:
            out.append(e)
    return out


def validate(filename: str, filesize: int, settings: dict, staff: bool = False,
             for_private_message: bool = False) -> list[str]:
    """UploadValidator: the extension against authorized_extensions (plus
    authorized_extensions_for_staff for staff; "*" authorises everything), then the size limit of
    its kind (max_image_size_kb for images, max_attachment_size_kb for the rest). Staff may upload
    anything in a PM (allow_staff_to_upload_any_file_in_pm)."""
    if for_private_message and staff and settings["allow_staff_to_upload_any_file_in_pm"]:
        return []
    allowed = settings["authorized_extensions"] or ""
    staff_allowed = (settings["authorized_extensions_for_staff"] or "") if staff else ""
    if "*" in allowed or "*" in staff_allowed:
        return []
    extension = file_extension(filename).lower()
    extensions, staff_extensions = extension_list(allowed), extension_list(staff_allowed)
    if extension in staff_extensions:
        return []
    if extension not in extensions:
        listed = extensions + [e for e in staff_extensions if e not in extensions]
        return [T["unauthorized"].format(authorized_extensions=", ".join(listed))]
    kind = "image" if extension in SUPPORTED_IMAGES else "attachment"
    max_kb = int(settings[f"max_{kind}_size_kb"])
    if filesize > max_kb * 1024:
        return [T[f"{kind}s.too_large"].format(max_size_kb=max_kb)]
    return []


def clean_filename(filename: str | None) -> str:
    """UploadCreator#initialize: characters that are not printable are dropped from the name."""
    return "".join(ch for ch in (filename or "") if ch.isprintable())


# ----------------------------------------------------------------------------- references

# Post#each_upload_url: links and media of the cooked post that point at an upload
_UPLOAD_PATHS = (re.compile(r"/uploads/default/"), re.compile(r"/original/"), re.compile(r"/optimized/"))
_SHORT_PATH = re.compile(r"/uploads/short-url/([a-zA-Z0-9]+)(\.[a-zA-Z0-9]+)?")
_SHORT_URL = re.compile(r"\Aupload://([a-zA-Z0-9]+)(\..*)?")
_SHA1_IN_PATH = re.compile(r"/([0-9a-fA-F]{40})(?=[._/]|\Z)")


class _MediaLinks(html.parser.HTMLParser):
    """a/@href, img/@src, source/@src, track/@src, video/@poster, div/@data-video-src."""

    WANTED = {("a", "href"), ("img", "src"), ("source", "src"), ("track", "src"), ("video", "poster"),
              ("div", "data-video-src"), ("div", "data-original-video-src")}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value and (tag, name) in self.WANTED:
                self.links.append(value)


def sha1s_in_cooked(cooked: str, host: str | None = None) -> set[str]:
    """The uploads a cooked post references (Post#each_upload_url → UploadReference): short URLs and
    short paths in links and images, and the store's own paths with a SHA-1. Text that is not a
    link or an image (a code block, a bare mention) references nothing."""
    parser = _MediaLinks()
    parser.feed(cooked or "")
    out: set[str] = set()
    for src in parser.links:
        src = src.split("?", 1)[0]
        m = _SHORT_URL.match(src)
        if m:
            sha1 = sha1_from_base62(m.group(1))
        elif "/uploads/short-url/" in src:
            link_host = re.match(r"\A(?:[a-z]+:)?//([^/]+)", src)
            if link_host and host and link_host.group(1) != host:
                continue
            m = _SHORT_PATH.search(src)
            sha1 = sha1_from_base62(m.group(1)) if m else None
        else:
            if not any(p.search(src) for p in _UPLOAD_PATHS):
                continue
            link_host = re.match(r"\A(?:[a-z]+:)?//([^/]+)", src)
            if link_host and (not host or link_host.group(1) != host):
                continue                             # not this forum's store
            found = _SHA1_IN_PATH.findall(src)
            sha1 = found[-1].lower() if found else None
        if sha1:
            out.add(sha1)
    return out


def sha1s_in_text(text: str) -> set[str]:
    """Upload.extract_upload_ids, used for drafts and bios: any "/<40 hex digits>" and any
    "/<base62>" in the text, wherever it stands."""
    if not text:
        return set()
    out = {m.lower() for m in re.findall(r"/([0-9a-fA-F]{40})", text)}
    for m in re.findall(r"/([a-zA-Z0-9]+)", text):
        sha1 = sha1_from_base62(m)
        if sha1:
            out.add(sha1)
    return out


# ----------------------------------------------------------------------------- the store

class UploadStore:
    """The uploads table and the local store's files, in memory. Rows are plain dicts:
    id, user_id, original_filename, filesize, width, height, thumbnail_width, thumbnail_height,
    extension, sha1, url, short_url, short_path, retain_hours, dominant_color, animated,
    for_private_message, created_at, data."""

    def __init__(self):
        self._lock = threading.RLock()
        self._rows: dict[int, dict] = {}
        self._next_id = 1

    def by_sha1(self, sha1: str | None) -> dict | None:
        if not sha1:
            return None
        with self._lock:
            return next((r for r in self._rows.values() if r["sha1"] == sha1.lower()), None)

    def get(self, upload_id: int) -> dict | None:
        with self._lock:
            return self._rows.get(int(upload_id))

    def all(self) -> list[dict]:
        with self._lock:
            return [dict(r) for r in sorted(self._rows.values(), key=lambda r: r["id"])]

    def add(self, processed: Processed, user_id: int, settings: dict, base_path: str,
            for_private_message: bool = False, retain_hours: int | None = None,
            created_at: float | None = None) -> dict:
        with self._lock:
            upload_id = self._next_id
            self._next_id += 1
            sha1 = processed.sha1
            tw, th = thumbnail_size(processed.width, processed.height, int(settings["max_image_width"]),
                                    int(settings["max_image_height"]))
            row = {
                "id": upload_id, "user_id": user_id, "original_filename": processed.filename,
                "filesize": len(processed.data), "width": processed.width, "height": processed.height,
                "thumbnail_width": tw, "thumbnail_height": th, "extension": processed.extension, "sha1": sha1,
                "url": original_path(upload_id, sha1, processed.extension, base_path),
                "short_url": short_url(sha1, processed.extension),
                "short_path": short_path(sha1, processed.extension, base_path),
                "retain_hours": retain_hours,
                "dominant_color": (dominant_color(processed.data) if processed.extension != "svg" else "")
                if processed.is_image else None,
                "animated": processed.animated if processed.is_image else None,
                "for_private_message": for_private_message,
                "created_at": time.time() if created_at is None else created_at,
                "steps": list(processed.steps),
                "data": processed.data,
            }
            self._rows[upload_id] = row
            return row

    def remove(self, upload_id: int) -> dict | None:
        with self._lock:
            return self._rows.pop(int(upload_id), None)

    def set_data(self, upload_id: int, data: bytes) -> None:
        """Replaces the stored file's bytes, its name and size kept (a hostile server)."""
        with self._lock:
            row = self._rows[int(upload_id)]
            row["data"], row["filesize"] = bytes(data), len(data)

    def set_created_at(self, upload_id: int, created_at: float) -> None:
        with self._lock:
            self._rows[int(upload_id)]["created_at"] = float(created_at)
