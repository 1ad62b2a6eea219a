//! Content digests: blake3 of canonical JSON. One function, at the bottom of the layers,
//! because the scenario partitioner, the judge's verdict cache and the store's cache keys
//! must all hash the same value to the same digest.

use serde::Serialize;
use serde_json::Value;

/// blake3 of the canonical JSON of `value`, as 64 hex digits.
pub fn digest_hex(value: &impl Serialize) -> String {
    let value = serde_json::to_value(value).unwrap_or(Value::Null);
    let mut hasher = blake3::Hasher::new();
    write_canonical(&value, &mut hasher);
    hasher.finalize().to_hex().to_string()
}

/// Compact JSON with object keys sorted by their UTF-8 bytes, at every depth.
fn write_canonical(value: &Value, hasher: &mut blake3::Hasher) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            hasher.update(b"{");
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    hasher.update(b",");
                }
                write_scalar(&Value::String(key.clone()), hasher);
                hasher.update(b":");
                write_canonical(value, hasher);
            }
            hasher.update(b"}");
        }
        Value::Array(items) => {
            hasher.update(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    hasher.update(b",");
                }
                write_canonical(item, hasher);
            }
            hasher.update(b"]");
        }
        scalar => write_scalar(scalar, hasher),
    }
}

fn write_scalar(value: &Value, hasher: &mut blake3::Hasher) {
    // A scalar always serializes.
    let text = serde_json::to_string(value).unwrap_or_default();
    hasher.update(text.as_bytes());
}
