//! Uploaded files: type detection from the bytes, the types and sizes each kind allows, object
//! keys, plan storage quotas, and the `Range`, `If-None-Match` and `Content-Disposition` rules
//! of downloads.

use sha2::{Digest, Sha256};

use crate::validate::{is_tenant_code, parse_uuid};

/// One mebibyte. The API's "MB" limits are binary: 2 MB is 2,097,152 bytes.
pub const MIB: u64 = 1024 * 1024;
/// One gibibyte, 1,073,741,824 bytes.
pub const GIB: u64 = 1024 * MIB;

/// Largest logo or product image.
pub const MAX_IMAGE_BYTES: u64 = 2 * MIB;
/// Largest document (PDF or CSV).
pub const MAX_DOC_BYTES: u64 = 10 * MIB;

/// Room in a multipart body for what surrounds the file: boundaries, part headers, the
/// `kind` field and a file name of up to 255 characters take well under 64 KiB.
pub const MULTIPART_OVERHEAD_BYTES: u64 = 64 * 1024;

/// Storage quota of the `free` plan: 50 MiB.
pub const FREE_QUOTA_BYTES: u64 = 50 * MIB;
/// Storage quota of the `pro` plan: 1 GiB.
pub const PRO_QUOTA_BYTES: u64 = GIB;
/// Storage quota of the `enterprise` plan: 10 GiB.
pub const ENTERPRISE_QUOTA_BYTES: u64 = 10 * GIB;

/// Maximum length of the original file name kept as metadata, in characters.
pub const MAX_FILE_NAME_CHARS: usize = 255;

/// Purpose of an uploaded file, which sets its folder, allowed types and size limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Logo,
    Product,
    Doc,
}

impl FileKind {
    /// Parses the API name: `logo`, `product` or `doc`.
    pub fn parse(text: &str) -> Option<FileKind> {
        match text {
            "logo" => Some(FileKind::Logo),
            "product" => Some(FileKind::Product),
            "doc" => Some(FileKind::Doc),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Logo => "logo",
            FileKind::Product => "product",
            FileKind::Doc => "doc",
        }
    }

    /// Folder of this kind under a tenant's or the vendor's prefix.
    pub fn folder(self) -> &'static str {
        match self {
            FileKind::Logo => "logo",
            FileKind::Product => "products",
            FileKind::Doc => "doc",
        }
    }

    /// Largest file of this kind, in bytes.
    pub fn max_bytes(self) -> u64 {
        match self {
            FileKind::Logo | FileKind::Product => MAX_IMAGE_BYTES,
            FileKind::Doc => MAX_DOC_BYTES,
        }
    }

    /// Types a file of this kind may have.
    pub fn allowed_types(self) -> &'static [FileType] {
        match self {
            FileKind::Logo | FileKind::Product => &[FileType::Png, FileType::Jpeg, FileType::Webp],
            FileKind::Doc => &[FileType::Pdf, FileType::Csv],
        }
    }

    pub fn allows(self, file_type: FileType) -> bool {
        self.allowed_types().contains(&file_type)
    }
}

/// A file type recognised from the file's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    Png,
    Jpeg,
    Webp,
    Pdf,
    Csv,
}

impl FileType {
    /// Every recognised type.
    pub const ALL: [FileType; 5] = [
        FileType::Png,
        FileType::Jpeg,
        FileType::Webp,
        FileType::Pdf,
        FileType::Csv,
    ];

    /// Returns the `Content-Type` the file is stored and served with.
    pub fn content_type(self) -> &'static str {
        match self {
            FileType::Png => "image/png",
            FileType::Jpeg => "image/jpeg",
            FileType::Webp => "image/webp",
            FileType::Pdf => "application/pdf",
            FileType::Csv => "text/csv; charset=utf-8",
        }
    }

    /// Extension of the object key, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            FileType::Png => "png",
            FileType::Jpeg => "jpg",
            FileType::Webp => "webp",
            FileType::Pdf => "pdf",
            FileType::Csv => "csv",
        }
    }

    /// Reads a stored `Content-Type` back, ignoring parameters such as `charset`.
    pub fn from_content_type(content_type: &str) -> Option<FileType> {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        FileType::ALL
            .into_iter()
            .find(|file_type| file_type.content_type().split(';').next() == Some(essence))
    }

    /// Images are shown in place; documents download.
    pub fn is_image(self) -> bool {
        matches!(self, FileType::Png | FileType::Jpeg | FileType::Webp)
    }
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Recognises a file's type from its bytes. A CSV has no signature, so it is recognised only
/// when `file_name` ends in `.csv` and the bytes are UTF-8 text. Returns `None` for anything
/// else, truncated signatures included.
pub fn detect(bytes: &[u8], file_name: Option<&str>) -> Option<FileType> {
    // A PNG starts with its 8-byte signature, then the IHDR chunk (4-byte length, then type).
    if bytes.starts_with(PNG_SIGNATURE) && bytes.get(12..16) == Some(b"IHDR".as_slice()) {
        return Some(FileType::Png);
    }
    // A JPEG starts with the SOI marker FF D8, then the FF of the next marker.
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(FileType::Jpeg);
    }
    // A WebP is a RIFF container of form type WEBP whose first chunk is VP8, VP8L or VP8X.
    if bytes.starts_with(b"RIFF")
        && bytes.get(8..12) == Some(b"WEBP".as_slice())
        && matches!(bytes.get(12..16), Some(b"VP8 " | b"VP8L" | b"VP8X"))
    {
        return Some(FileType::Webp);
    }
    // A PDF starts with `%PDF-` and the major version digit.
    if bytes.starts_with(b"%PDF-") && bytes.get(5).is_some_and(u8::is_ascii_digit) {
        return Some(FileType::Pdf);
    }
    let named_csv = file_name.is_some_and(|name| name.to_ascii_lowercase().ends_with(".csv"));
    if named_csv && is_text(bytes) {
        return Some(FileType::Csv);
    }
    None
}

/// True when `bytes` are non-empty UTF-8 text: no NUL or other control character except
/// tab, line feed and carriage return. A leading byte order mark is allowed.
fn is_text(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    !text.is_empty() && text.chars().all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
}

/// Reason an upload was rejected before it was stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadError {
    /// The file has no bytes.
    Empty,
    /// The file is larger than its kind allows.
    TooLarge { max_bytes: u64, size: u64 },
    /// The bytes are of no allowed type for the kind; `detected` is what they are, if known.
    UnsupportedType { detected: Option<FileType> },
}

/// Checks an upload against its kind's size limit and allowed types, and returns its type.
///
/// # Errors
/// [`UploadError`] naming the first rule the file breaks, checked in the order empty, size,
/// type.
pub fn check_upload(kind: FileKind, bytes: &[u8], file_name: Option<&str>) -> Result<FileType, UploadError> {
    let size = bytes.len() as u64;
    if size == 0 {
        return Err(UploadError::Empty);
    }
    if size > kind.max_bytes() {
        return Err(UploadError::TooLarge {
            max_bytes: kind.max_bytes(),
            size,
        });
    }
    match detect(bytes, file_name) {
        Some(file_type) if kind.allows(file_type) => Ok(file_type),
        detected => Err(UploadError::UnsupportedType { detected }),
    }
}

/// Cleans a client's file name for storage as metadata: only the part after the last `/` or
/// `\` is kept, control characters (NUL included) are removed, surrounding spaces are trimmed
/// and the result is cut to [`MAX_FILE_NAME_CHARS`]. Returns `None` when nothing is left or the
/// name is `.` or `..`. The name never becomes part of an object key.
pub fn clean_file_name(name: &str) -> Option<String> {
    let last_segment = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last_segment
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(MAX_FILE_NAME_CHARS)
        .collect();
    let cleaned = cleaned.trim_end().to_string();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        None
    } else {
        Some(cleaned)
    }
}

/// Builds the object key of a tenant's file: `tenants/{code}/{folder}/{id}.{extension}`.
/// Returns `None` unless `tenant_code` is a valid tenant code and `id` a lowercase UUID, so no
/// input can add a path segment.
pub fn tenant_object_key(tenant_code: &str, kind: FileKind, id: &str, file_type: FileType) -> Option<String> {
    if !is_tenant_code(tenant_code) || !is_canonical_uuid(id) {
        return None;
    }
    Some(format!(
        "tenants/{tenant_code}/{}/{id}.{}",
        kind.folder(),
        file_type.extension()
    ))
}

/// Builds the object key of a vendor file: `vendor/{logo|doc}/{id}.{extension}`. Returns
/// `None` for the `product` kind, which vendors do not have, and for an `id` that is not a
/// lowercase UUID.
pub fn vendor_object_key(kind: FileKind, id: &str, file_type: FileType) -> Option<String> {
    if kind == FileKind::Product || !is_canonical_uuid(id) {
        return None;
    }
    Some(format!("vendor/{}/{id}.{}", kind.folder(), file_type.extension()))
}

/// Prefix of every object of a tenant, for deleting them all at offboarding.
pub fn tenant_prefix(tenant_code: &str) -> Option<String> {
    is_tenant_code(tenant_code).then(|| format!("tenants/{tenant_code}/"))
}

fn is_canonical_uuid(id: &str) -> bool {
    parse_uuid(id).as_deref() == Some(id)
}

/// Storage quota of a plan in bytes. An unknown plan gets the smallest quota, `free`'s.
pub fn storage_quota_bytes(plan: &str) -> u64 {
    match plan {
        "pro" => PRO_QUOTA_BYTES,
        "enterprise" => ENTERPRISE_QUOTA_BYTES,
        _ => FREE_QUOTA_BYTES,
    }
}

/// SHA-256 of the bytes as lowercase hex: the stored checksum, and the `ETag` of downloads.
pub fn checksum_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Quotes a checksum as the strong entity tag HTTP sends.
pub fn entity_tag(checksum: &str) -> String {
    format!("\"{checksum}\"")
}

/// Evaluates `If-None-Match` against the current entity tag with the weak comparison that
/// RFC 9110 (section 13.1.2) prescribes: `*` or any listed tag equal to `etag`, `W/` ignored.
pub fn none_match_hits(header: &str, etag: &str) -> bool {
    let current = etag.trim_start_matches("W/");
    header
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == current)
}

/// Decides whether a `Range` may be served given `If-Range`. RFC 9110 (section 13.1.5)
/// requires a strong match of an entity tag. A date, a weak tag or another tag means the
/// whole file is sent.
pub fn range_allowed_by_if_range(if_range: Option<&str>, etag: &str) -> bool {
    match if_range.map(str::trim) {
        None => true,
        Some(value) => !value.starts_with("W/") && value == etag,
    }
}

/// An inclusive span of bytes within a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    /// Last byte served, inclusive, as in `Content-Range`.
    pub end: u64,
}

impl ByteRange {
    /// Number of bytes in the span, at least 1.
    pub fn byte_count(&self) -> u64 {
        self.end - self.start + 1
    }

    /// Formats the `Content-Range` value of this span of a file of `size` bytes.
    pub fn content_range(&self, size: u64) -> String {
        format!("bytes {}-{}/{size}", self.start, self.end)
    }
}

/// Outcome of a `Range` header for a file of known size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// Serve the whole file with 200: no header, a unit other than `bytes`, a malformed
    /// header, or several ranges (which this API does not serve as multipart).
    Whole,
    /// Serve one span with 206.
    Partial(ByteRange),
    /// Respond 416 with `Content-Range: bytes */{size}`.
    Unsatisfiable,
}

/// Interprets a `Range` header for a file of `size` bytes, following RFC 9110 (section 14.1.2):
/// `bytes=a-b`, `bytes=a-` and the suffix form `bytes=-n`. An end past the file is cut to the
/// last byte; a start at or past the end of the file is unsatisfiable.
pub fn parse_range(header: &str, size: u64) -> RangeRequest {
    let header = header.trim();
    let Some((unit, spec)) = header.split_once('=') else {
        return RangeRequest::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |text: &str| -> Option<u64> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            text.parse::<u64>().ok()
        }
    };

    if first.is_empty() {
        // Suffix form: the last `n` bytes.
        let Some(suffix) = number(last) else {
            return RangeRequest::Whole;
        };
        if suffix == 0 || size == 0 {
            return RangeRequest::Unsatisfiable;
        }
        return RangeRequest::Partial(ByteRange {
            start: size.saturating_sub(suffix),
            end: size - 1,
        });
    }

    let Some(start) = number(first) else {
        return RangeRequest::Whole;
    };
    let end = if last.is_empty() {
        None
    } else {
        match number(last) {
            Some(end) if end >= start => Some(end),
            _ => return RangeRequest::Whole,
        }
    };
    if start >= size {
        return RangeRequest::Unsatisfiable;
    }
    let end = end.map_or(size - 1, |end| end.min(size - 1));
    RangeRequest::Partial(ByteRange { start, end })
}

/// Builds `Content-Disposition`: `inline` for images and `attachment` for documents. A
/// document is named after its original file name when there is one, else `{id}.{extension}`,
/// in an ASCII fallback and in the RFC 8187 UTF-8 form.
pub fn content_disposition(file_type: FileType, original_name: Option<&str>, id: &str) -> String {
    if file_type.is_image() {
        return "inline".to_string();
    }
    let fallback = format!("{id}.{}", file_type.extension());
    let name = original_name
        .and_then(clean_file_name)
        .unwrap_or_else(|| fallback.clone());
    let ascii: String = name
        .chars()
        .map(|c| match c {
            '"' | '\\' => '_',
            ' ' => ' ',
            c if c.is_ascii_graphic() => c,
            _ => '_',
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        percent_encode_attr(&name)
    )
}

/// Percent-encodes `text` as an RFC 8187 `value-chars`: UTF-8 bytes outside `attr-char` become
/// `%XX`.
fn percent_encode_attr(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        let is_attr_char = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        if is_attr_char {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests;
