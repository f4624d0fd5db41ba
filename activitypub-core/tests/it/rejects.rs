//! Documents missing what makes them meaningful are rejected with a typed error naming the field.

use activitypub_core::{AnyObject, IriError, JsonKind, Limits, ParseError};

use crate::support::{data_dir, data_files, read};

fn expected(file: &str, error: &ParseError) -> bool {
    use ParseError as E;
    match file {
        "top-level-array.json" => matches!(
            error,
            E::NotAnObject {
                found: JsonKind::Array
            }
        ),
        "top-level-string.json" => matches!(
            error,
            E::NotAnObject {
                found: JsonKind::String
            }
        ),
        "missing-type.json" => matches!(error, E::MissingType),
        "number-type.json" => matches!(
            error,
            E::InvalidType {
                found: JsonKind::Number
            }
        ),
        "null-type.json" => matches!(
            error,
            E::InvalidType {
                found: JsonKind::Null
            }
        ),
        "empty-type-array.json" => matches!(error, E::EmptyType),
        "type-array-with-number.json" => {
            matches!(
                error,
                E::InvalidTypeEntry {
                    found: JsonKind::Number
                }
            )
        }
        "number-id.json" => matches!(
            error,
            E::IdNotAString {
                found: JsonKind::Number
            }
        ),
        "object-id.json" => matches!(
            error,
            E::IdNotAString {
                found: JsonKind::Object
            }
        ),
        "relative-id.json" => matches!(
            error,
            E::InvalidId {
                reason: IriError::MissingScheme,
                ..
            }
        ),
        "id-with-space.json" => matches!(
            error,
            E::InvalidId {
                reason: IriError::ForbiddenCharacter { character: ' ', .. },
                ..
            }
        ),
        "truncated.json" | "trailing-data.json" | "not-utf8.json" => matches!(error, E::Json(_)),
        "too-deep.json" => matches!(error, E::TooDeep { limit: 64 }),
        other => panic!("no expectation for tests/data/reject/{other}"),
    }
}

#[test]
fn each_rejected_document_names_what_is_wrong() {
    for path in data_files("reject") {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let error = AnyObject::from_slice(&read(&path))
            .err()
            .unwrap_or_else(|| panic!("{name} was accepted"));
        assert!(
            expected(&name, &error),
            "{name}: unexpected error {error:?}"
        );
        // The message is for an operator: it names the field when there is one.
        let message = error.to_string();
        if name.contains("type") {
            assert!(message.contains("`type`"), "{name}: {message}");
        }
        if name.contains("id") && !name.contains("trailing") {
            assert!(message.contains("`id`"), "{name}: {message}");
        }
    }
}

#[test]
fn size_limit_is_enforced_before_parsing() {
    let bytes = read(&data_dir().join("degrade/bad-optional-values.json"));
    let limits = Limits::new(100, 64);
    let error = AnyObject::from_slice_with(&bytes, &limits).expect_err("over the size limit");
    assert!(matches!(error, ParseError::TooLarge { limit: 100, size } if size == bytes.len()));
    assert!(AnyObject::from_slice_with(&bytes, &Limits::new(bytes.len(), 64)).is_ok());
}

#[test]
fn depth_limit_is_configurable() {
    let doc = br#"{"type":"Note","a":{"b":{"c":[1]}}}"#;
    // Levels: the document, a, b, c's array.
    assert!(AnyObject::from_slice_with(doc, &Limits::new(1024, 4)).is_ok());
    let error = AnyObject::from_slice_with(doc, &Limits::new(1024, 3)).expect_err("too deep");
    assert!(
        matches!(error, ParseError::TooDeep { limit: 3 }),
        "{error:?}"
    );
    // Past serde_json's own fixed limit, the error is still TooDeep.
    let deep = format!(
        "{{\"type\":\"Note\",\"x\":{}{}}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    let error = AnyObject::from_slice_with(deep.as_bytes(), &Limits::new(1 << 20, 500))
        .expect_err("too deep for the reader");
    assert!(matches!(error, ParseError::TooDeep { .. }), "{error:?}");
}

#[test]
fn a_byte_order_mark_and_leading_whitespace_are_accepted() {
    let mut doc = b"\xEF\xBB\xBF \n".to_vec();
    doc.extend_from_slice(br#"{"type":"Note","id":"https://example.com/1"}"#);
    let object = AnyObject::from_slice(&doc).expect("accepted");
    assert_eq!(object.type_name(), "Note");
}
