// The invariants the `parse_document` fuzz target checks, shared with the replay test in
// `activitypub-core/tests/it/fuzz_replay.rs` (this file is `include!`d by both).

/// Parsing never panics; whatever is accepted serializes back to the same JSON value, and reading
/// that output again gives the same model.
#[allow(dead_code)]
pub(crate) fn check(data: &[u8]) {
    let limits = activitypub_core::Limits::default();
    let Ok(object) = activitypub_core::AnyObject::from_slice_with(data, &limits) else {
        return;
    };
    let input = activitypub_core::read_json(data, &limits).expect("accepted, so it is JSON");
    assert_eq!(object.to_value(), input, "lossless round trip");
    let again = activitypub_core::AnyObject::from_slice(&object.to_vec()).expect("re-read");
    assert_eq!(again, object, "stable model");
    // The helpers never panic on what was accepted.
    let _ = activitypub_core::addressing::delivery_targets(&object);
    let _ = activitypub_core::context::context_for(&object);
    if let Some(activity) = object.as_activity() {
        let _ = activitypub_core::origin::check_activity_origin(activity);
    }
}
