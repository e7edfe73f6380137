use super::*;
use crate::error::{message, Lang};

const FILE_ID: &str = "0190f3a2-7b1c-7d2e-8f30-1a2b3c4d5e6f";

/// Returns a minimal PNG: signature, IHDR chunk header and zero padding.
fn png() -> Vec<u8> {
    let mut bytes = PNG_SIGNATURE.to_vec();
    bytes.extend_from_slice(&[0, 0, 0, 13]);
    bytes.extend_from_slice(b"IHDR");
    bytes.extend_from_slice(&[0; 17]);
    bytes
}

fn jpeg() -> Vec<u8> {
    vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00]
}

fn webp() -> Vec<u8> {
    let mut bytes = b"RIFF".to_vec();
    bytes.extend_from_slice(&[26, 0, 0, 0]);
    bytes.extend_from_slice(b"WEBPVP8 ");
    bytes.extend_from_slice(&[0; 18]);
    bytes
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n".to_vec()
}

const CSV: &[u8] = b"sku,name,price\nKOPI-01,Kopi Tubruk,15000\n";

#[test]
fn detect_recognises_each_signature() {
    assert_eq!(detect(&png(), None), Some(FileType::Png));
    assert_eq!(detect(&jpeg(), None), Some(FileType::Jpeg));
    assert_eq!(detect(&webp(), None), Some(FileType::Webp));
    assert_eq!(detect(&pdf(), None), Some(FileType::Pdf));
    assert_eq!(detect(CSV, Some("produk.csv")), Some(FileType::Csv));
}

#[test]
fn detect_rejects_truncated_signatures() {
    let png = png();
    assert_eq!(detect(&png[..7], None), None, "PNG signature cut short");
    assert_eq!(detect(&png[..8], None), None, "PNG signature without IHDR");
    assert_eq!(detect(&png[..15], None), None, "IHDR type cut short");
    assert_eq!(detect(&[0xFF, 0xD8], None), None, "JPEG SOI without next marker");
    assert_eq!(detect(&webp()[..12], None), None, "WebP without its first chunk");
    assert_eq!(detect(b"RIFF\0\0\0\0WAVEfmt ", None), None, "RIFF of another form");
    assert_eq!(detect(b"%PDF", None), None, "PDF header without version");
    assert_eq!(detect(b"%PDF-x", None), None, "PDF header with a bad version");
    assert_eq!(detect(b"", None), None);
}

#[test]
fn detect_ignores_the_name_for_signed_types() {
    // A PNG named like a JPEG, or like a CSV, is still a PNG.
    assert_eq!(detect(&png(), Some("foto.jpg")), Some(FileType::Png));
    assert_eq!(detect(&png(), Some("data.csv")), Some(FileType::Png));
    assert_eq!(detect(&pdf(), Some("laporan.csv")), Some(FileType::Pdf));
}

#[test]
fn csv_needs_csv_name_and_plain_text() {
    assert_eq!(detect(CSV, Some("DATA.CSV")), Some(FileType::Csv));
    assert_eq!(detect(CSV, Some("data.txt")), None);
    assert_eq!(detect(CSV, Some("data.csv.exe")), None);
    assert_eq!(detect(CSV, None), None);
    assert_eq!(detect(b"a,b\0c\n", Some("nul.csv")), None, "NUL byte");
    assert_eq!(detect(b"a,\x1b[31mb\n", Some("escape.csv")), None, "control character");
    assert_eq!(detect(b"a,\xff\xfe\n", Some("latin.csv")), None, "not UTF-8");
    assert_eq!(detect(b"", Some("empty.csv")), None);
    assert_eq!(
        detect(b"\xEF\xBB\xBFnama,harga\r\nTeh Manis,5000\r\n", Some("bom.csv")),
        Some(FileType::Csv),
        "byte order mark and CRLF"
    );
    assert_eq!(
        detect("nama\tharga\nKue Lapis\t7000\n".as_bytes(), Some("tab.csv")),
        Some(FileType::Csv)
    );
}

#[test]
fn check_upload_matches_kind_and_type() {
    assert_eq!(check_upload(FileKind::Logo, &png(), None), Ok(FileType::Png));
    assert_eq!(check_upload(FileKind::Product, &webp(), None), Ok(FileType::Webp));
    assert_eq!(check_upload(FileKind::Doc, &pdf(), None), Ok(FileType::Pdf));
    assert_eq!(check_upload(FileKind::Doc, CSV, Some("a.csv")), Ok(FileType::Csv));

    assert_eq!(
        check_upload(FileKind::Doc, &jpeg(), Some("scan.pdf")),
        Err(UploadError::UnsupportedType {
            detected: Some(FileType::Jpeg)
        })
    );
    assert_eq!(
        check_upload(FileKind::Logo, &pdf(), Some("logo.png")),
        Err(UploadError::UnsupportedType {
            detected: Some(FileType::Pdf)
        })
    );
    assert_eq!(
        check_upload(FileKind::Product, CSV, Some("a.csv")),
        Err(UploadError::UnsupportedType {
            detected: Some(FileType::Csv)
        })
    );
    assert_eq!(
        check_upload(
            FileKind::Product,
            b"<svg xmlns='http://www.w3.org/2000/svg'/>",
            Some("a.png")
        ),
        Err(UploadError::UnsupportedType { detected: None })
    );
    assert_eq!(check_upload(FileKind::Doc, b"", Some("a.csv")), Err(UploadError::Empty));
}

#[test]
fn check_upload_enforces_size_per_kind() {
    let mut at_limit = png();
    at_limit.resize(MAX_IMAGE_BYTES as usize, 0);
    assert_eq!(check_upload(FileKind::Product, &at_limit, None), Ok(FileType::Png));

    let mut over = at_limit.clone();
    over.push(0);
    assert_eq!(
        check_upload(FileKind::Product, &over, None),
        Err(UploadError::TooLarge {
            max_bytes: 2_097_152,
            size: 2_097_153
        })
    );

    let mut big_pdf = pdf();
    big_pdf.resize(MAX_IMAGE_BYTES as usize + 1, b' ');
    assert_eq!(check_upload(FileKind::Doc, &big_pdf, None), Ok(FileType::Pdf));
    big_pdf.resize(MAX_DOC_BYTES as usize + 1, b' ');
    assert_eq!(
        check_upload(FileKind::Doc, &big_pdf, None),
        Err(UploadError::TooLarge {
            max_bytes: 10_485_760,
            size: 10_485_761
        })
    );
}

#[test]
fn clean_file_name_drops_paths_and_controls() {
    assert_eq!(clean_file_name("../../x").as_deref(), Some("x"));
    assert_eq!(clean_file_name("a/b").as_deref(), Some("b"));
    assert_eq!(
        clean_file_name("C:\\Users\\toko\\logo.png").as_deref(),
        Some("logo.png")
    );
    assert_eq!(clean_file_name("nota\0.pdf").as_deref(), Some("nota.pdf"));
    assert_eq!(clean_file_name("baris\r\nbaru.csv").as_deref(), Some("barisbaru.csv"));
    assert_eq!(clean_file_name("  harga.csv  ").as_deref(), Some("harga.csv"));
    assert_eq!(
        clean_file_name("Daftar Harga Kopi ☕.csv").as_deref(),
        Some("Daftar Harga Kopi ☕.csv")
    );
    for empty in ["", "   ", "..", ".", "a/", "../", "\0"] {
        assert_eq!(clean_file_name(empty), None, "{empty:?}");
    }
}

#[test]
fn clean_file_name_cuts_long_names() {
    let long = format!("{}.pdf", "x".repeat(10_000));
    let cleaned = clean_file_name(&long).unwrap_or_default();
    assert_eq!(cleaned.chars().count(), MAX_FILE_NAME_CHARS);

    let multibyte = "é".repeat(1_000);
    let cleaned = clean_file_name(&multibyte).unwrap_or_default();
    assert_eq!(cleaned.chars().count(), MAX_FILE_NAME_CHARS);
}

#[test]
fn tenant_key_uses_code_folder_id_and_type() {
    assert_eq!(
        tenant_object_key("toko-maju", FileKind::Logo, FILE_ID, FileType::Png).as_deref(),
        Some("tenants/toko-maju/logo/0190f3a2-7b1c-7d2e-8f30-1a2b3c4d5e6f.png")
    );
    assert_eq!(
        tenant_object_key("toko-maju", FileKind::Product, FILE_ID, FileType::Jpeg).as_deref(),
        Some("tenants/toko-maju/products/0190f3a2-7b1c-7d2e-8f30-1a2b3c4d5e6f.jpg")
    );
    assert_eq!(
        tenant_object_key("toko-maju", FileKind::Doc, FILE_ID, FileType::Csv).as_deref(),
        Some("tenants/toko-maju/doc/0190f3a2-7b1c-7d2e-8f30-1a2b3c4d5e6f.csv")
    );
}

#[test]
fn tenant_key_rejects_hostile_parts() {
    let hostile_ids = [
        "../../x",
        "a/b",
        "0190f3a2-7b1c-7d2e-8f30-1a2b3c4d5e6f/../../x",
        "0190F3A2-7B1C-7D2E-8F30-1A2B3C4D5E6F",
        "0190f3a2-7b1c-7d2e-8f30-1a2b3c4d5e6\0",
        "",
    ];
    for id in hostile_ids {
        assert_eq!(
            tenant_object_key("toko-maju", FileKind::Doc, id, FileType::Pdf),
            None,
            "id {id:?}"
        );
    }
    let long_code = "a".repeat(33);
    let hostile_codes = ["../x", "toko/maju", "Toko", "", "to", long_code.as_str(), "toko\0"];
    for code in hostile_codes {
        assert_eq!(
            tenant_object_key(code, FileKind::Doc, FILE_ID, FileType::Pdf),
            None,
            "code {code:?}"
        );
    }
}

#[test]
fn key_extension_follows_bytes_not_name() {
    // A PNG uploaded as `../../evil.jpg` is stored as a `.png` under the generated id.
    let name = "../../evil.jpg";
    let file_type = check_upload(FileKind::Product, &png(), Some(name));
    assert_eq!(file_type, Ok(FileType::Png));
    let key = file_type
        .ok()
        .and_then(|file_type| tenant_object_key("toko-maju", FileKind::Product, FILE_ID, file_type))
        .unwrap_or_default();
    assert_eq!(key, format!("tenants/toko-maju/products/{FILE_ID}.png"));
    assert!(!key.contains("evil"));
}

#[test]
fn vendor_key_has_no_product_folder() {
    assert_eq!(
        vendor_object_key(FileKind::Logo, FILE_ID, FileType::Webp).as_deref(),
        Some("vendor/logo/0190f3a2-7b1c-7d2e-8f30-1a2b3c4d5e6f.webp")
    );
    assert_eq!(
        vendor_object_key(FileKind::Doc, FILE_ID, FileType::Pdf).as_deref(),
        Some("vendor/doc/0190f3a2-7b1c-7d2e-8f30-1a2b3c4d5e6f.pdf")
    );
    assert_eq!(vendor_object_key(FileKind::Product, FILE_ID, FileType::Png), None);
    assert_eq!(vendor_object_key(FileKind::Logo, "../x", FileType::Png), None);
}

#[test]
fn tenant_prefix_needs_valid_code() {
    assert_eq!(tenant_prefix("toko-maju").as_deref(), Some("tenants/toko-maju/"));
    assert_eq!(tenant_prefix(""), None);
    assert_eq!(tenant_prefix("../"), None);
}

#[test]
fn quota_per_plan() {
    assert_eq!(storage_quota_bytes("free"), 52_428_800);
    assert_eq!(storage_quota_bytes("pro"), 1_073_741_824);
    assert_eq!(storage_quota_bytes("enterprise"), 10_737_418_240);
    assert_eq!(storage_quota_bytes("unknown"), FREE_QUOTA_BYTES);
}

#[test]
fn content_type_round_trips() {
    for file_type in FileType::ALL {
        assert_eq!(FileType::from_content_type(file_type.content_type()), Some(file_type));
    }
    assert_eq!(FileType::from_content_type("text/csv"), Some(FileType::Csv));
    assert_eq!(FileType::from_content_type("text/html"), None);
}

#[test]
fn checksum_is_sha256_hex() {
    assert_eq!(
        checksum_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(entity_tag("abc"), "\"abc\"");
}

#[test]
fn range_forms() {
    let partial = |start, end| RangeRequest::Partial(ByteRange { start, end });
    let cases: &[(&str, u64, RangeRequest)] = &[
        ("bytes=0-9", 100, partial(0, 9)),
        ("bytes=90-", 100, partial(90, 99)),
        ("bytes=-10", 100, partial(90, 99)),
        ("bytes=-500", 100, partial(0, 99)),
        ("bytes=50-1000", 100, partial(50, 99)),
        ("bytes=99-99", 100, partial(99, 99)),
        ("BYTES = 0-0", 100, partial(0, 0)),
        ("bytes=100-", 100, RangeRequest::Unsatisfiable),
        ("bytes=100-200", 100, RangeRequest::Unsatisfiable),
        ("bytes=-0", 100, RangeRequest::Unsatisfiable),
        ("bytes=0-0", 0, RangeRequest::Unsatisfiable),
        ("bytes=9-0", 100, RangeRequest::Whole),
        ("bytes=0-9,20-29", 100, RangeRequest::Whole),
        ("items=0-9", 100, RangeRequest::Whole),
        ("bytes=abc", 100, RangeRequest::Whole),
        ("bytes=+1-5", 100, RangeRequest::Whole),
        ("bytes=-", 100, RangeRequest::Whole),
        ("bytes=99999999999999999999999-", 100, RangeRequest::Whole),
        ("", 100, RangeRequest::Whole),
    ];
    for (header, size, expected) in cases {
        assert_eq!(
            parse_range(header, *size),
            *expected,
            "Range: {header:?} of {size} bytes"
        );
    }
}

#[test]
fn byte_range_counts_and_formats() {
    let range = ByteRange { start: 10, end: 19 };
    assert_eq!(range.byte_count(), 10);
    assert_eq!(range.content_range(100), "bytes 10-19/100");
}

#[test]
fn if_none_match_uses_weak_comparison() {
    let etag = "\"abc\"";
    assert!(none_match_hits("\"abc\"", etag));
    assert!(none_match_hits("W/\"abc\"", etag));
    assert!(none_match_hits("\"x\", \"abc\"", etag));
    assert!(none_match_hits("*", etag));
    assert!(!none_match_hits("\"abd\"", etag));
    assert!(!none_match_hits("abc", etag));
    assert!(!none_match_hits("", etag));
}

#[test]
fn if_range_needs_strong_match() {
    let etag = "\"abc\"";
    assert!(range_allowed_by_if_range(None, etag));
    assert!(range_allowed_by_if_range(Some("\"abc\""), etag));
    assert!(!range_allowed_by_if_range(Some("W/\"abc\""), etag));
    assert!(!range_allowed_by_if_range(Some("\"old\""), etag));
    assert!(!range_allowed_by_if_range(Some("Wed, 21 Oct 2015 07:28:00 GMT"), etag));
}

#[test]
fn disposition_inline_for_images() {
    assert_eq!(content_disposition(FileType::Png, Some("logo.png"), FILE_ID), "inline");
}

#[test]
fn disposition_names_documents_safely() {
    assert_eq!(
        content_disposition(FileType::Pdf, None, FILE_ID),
        format!("attachment; filename=\"{FILE_ID}.pdf\"; filename*=UTF-8''{FILE_ID}.pdf")
    );
    assert_eq!(
        content_disposition(FileType::Csv, Some("Harga \"Kopi\" ☕.csv"), FILE_ID),
        "attachment; filename=\"Harga _Kopi_ _.csv\"; filename*=UTF-8''Harga%20%22Kopi%22%20%E2%98%95.csv"
    );
    let header = content_disposition(FileType::Pdf, Some("../../nota\r\nSet-Cookie: a=b.pdf"), FILE_ID);
    assert!(!header.contains('\r'), "{header}");
    assert!(!header.contains('\n'), "{header}");
    assert!(!header.contains(".."), "{header}");
}

#[test]
fn upload_messages_exist_in_both_languages() {
    for key in [
        "multipart_required",
        "unsupported_file_type",
        "file_too_large",
        "empty_file",
        "storage_quota",
    ] {
        assert!(message(key, Lang::En).is_some(), "{key} lacks English");
        assert!(message(key, Lang::Id).is_some(), "{key} lacks Indonesian");
    }
}
