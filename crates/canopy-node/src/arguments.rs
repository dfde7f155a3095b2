//! The arguments of a tool call: a JSON object, or none.
//!
//! [`Tree::call_tool`](crate::Tree::call_tool) and [`Tree::start_call`](crate::Tree::start_call)
//! take `impl Into<Arguments>`, so a call site passes what it has:
//!
//! ```
//! use canopy_node::Arguments;
//! use serde_json::json;
//!
//! let _ = Arguments::from(json!({ "query": "rust" })); // a JSON object
//! let _ = Arguments::from(());                         // no arguments
//! let mut map = serde_json::Map::new();
//! map.insert("query".into(), "rust".into());
//! let _ = Arguments::from(map.clone());                // a JSON object map
//! let _ = Arguments::from(Some(map));                  // an optional one
//! // Anything but an object (or null) is refused when the call starts:
//! let bad = Arguments::from(json!([1, 2]));
//! assert_eq!(
//!     bad.into_object().unwrap_err().to_string(),
//!     "tool arguments must be a JSON object, not an array: [1,2]"
//! );
//! ```

use std::collections::{BTreeMap, HashMap};

use rmcp::model::JsonObject;
use serde_json::Value;

/// The arguments of a tool call: a JSON object, or none.
///
/// Converts from a [`serde_json::Value`] (an object, or `null` for none), a [`JsonObject`]
/// (`serde_json::Map`), a `HashMap` or `BTreeMap` of names to JSON values, `()` (none) and
/// `Option<JsonObject>`. A value that is not an object is kept as it is and refused, with
/// an [`ArgumentsError`], when the call starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Arguments(Inner);

#[derive(Debug, Clone, Default, PartialEq)]
enum Inner {
    #[default]
    None,
    Object(JsonObject),
    NotAnObject(Value),
}

/// Tool arguments that are not a JSON object (MCP's `arguments` must be one).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("tool arguments must be a JSON object, not {kind}: {value}")]
pub struct ArgumentsError {
    kind: &'static str,
    value: String,
}

/// The longest rendering of a refused value kept in the error's message.
const SHOWN_VALUE: usize = 80;

impl ArgumentsError {
    fn new(value: &Value) -> Self {
        let kind = match value {
            Value::Null | Value::Object(_) => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
        };
        let mut value = value.to_string();
        if value.len() > SHOWN_VALUE {
            let mut end = SHOWN_VALUE;
            while !value.is_char_boundary(end) {
                end -= 1;
            }
            value.truncate(end);
            value.push('…');
        }
        Self { kind, value }
    }
}

impl Arguments {
    /// No arguments.
    pub fn none() -> Self {
        Self(Inner::None)
    }

    /// Whether there are no arguments.
    pub fn is_none(&self) -> bool {
        matches!(self.0, Inner::None)
    }

    /// The arguments as MCP sends them: an object, or `None`; an error for a value that is
    /// not an object.
    pub fn into_object(self) -> Result<Option<JsonObject>, ArgumentsError> {
        match self.0 {
            Inner::None => Ok(None),
            Inner::Object(object) => Ok(Some(object)),
            Inner::NotAnObject(value) => Err(ArgumentsError::new(&value)),
        }
    }
}

impl From<()> for Arguments {
    fn from((): ()) -> Self {
        Self::none()
    }
}

impl From<JsonObject> for Arguments {
    fn from(object: JsonObject) -> Self {
        Self(Inner::Object(object))
    }
}

impl From<Option<JsonObject>> for Arguments {
    fn from(object: Option<JsonObject>) -> Self {
        object.map_or_else(Self::none, Self::from)
    }
}

impl From<Value> for Arguments {
    /// An object becomes the arguments and `null` means none; any other value is refused
    /// when the call starts.
    fn from(value: Value) -> Self {
        match value {
            Value::Null => Self::none(),
            Value::Object(object) => Self(Inner::Object(object)),
            other => Self(Inner::NotAnObject(other)),
        }
    }
}

impl From<&Value> for Arguments {
    fn from(value: &Value) -> Self {
        Self::from(value.clone())
    }
}

impl<K: Into<String>, V: Into<Value>> From<HashMap<K, V>> for Arguments {
    fn from(map: HashMap<K, V>) -> Self {
        Self::from(
            map.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect::<JsonObject>(),
        )
    }
}

impl<K: Into<String>, V: Into<Value>> From<BTreeMap<K, V>> for Arguments {
    fn from(map: BTreeMap<K, V>) -> Self {
        Self::from(
            map.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect::<JsonObject>(),
        )
    }
}

impl From<ArgumentsError> for crate::CallError {
    fn from(error: ArgumentsError) -> Self {
        Self(rmcp::ErrorData::invalid_params(error.to_string(), None))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> JsonObject {
        match value {
            Value::Object(object) => object,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn an_object_value_is_the_arguments() {
        let arguments = Arguments::from(json!({ "query": "rust", "limit": 3 }));
        assert_eq!(
            arguments.into_object(),
            Ok(Some(object(json!({ "query": "rust", "limit": 3 }))))
        );
        assert_eq!(
            Arguments::from(&json!({ "a": 1 })).into_object(),
            Ok(Some(object(json!({ "a": 1 }))))
        );
    }

    #[test]
    fn unit_null_and_none_are_no_arguments() {
        for arguments in [
            Arguments::from(()),
            Arguments::from(Value::Null),
            Arguments::from(None::<JsonObject>),
            Arguments::default(),
        ] {
            assert!(arguments.is_none());
            assert_eq!(arguments.into_object(), Ok(None));
        }
    }

    #[test]
    fn maps_become_objects() {
        let map = object(json!({ "text": "hello" }));
        assert_eq!(
            Arguments::from(map.clone()).into_object(),
            Ok(Some(map.clone()))
        );
        assert_eq!(
            Arguments::from(Some(map.clone())).into_object(),
            Ok(Some(map))
        );
        let hash: HashMap<&str, i64> = [("a", 1), ("b", 2)].into();
        assert_eq!(
            Arguments::from(hash).into_object(),
            Ok(Some(object(json!({ "a": 1, "b": 2 }))))
        );
        let tree: BTreeMap<String, Value> = [("x".to_owned(), json!([true]))].into();
        assert_eq!(
            Arguments::from(tree).into_object(),
            Ok(Some(object(json!({ "x": [true] }))))
        );
    }

    #[test]
    fn a_value_that_is_not_an_object_is_a_clear_error() {
        let cases = [
            (json!([1, 2]), "not an array: [1,2]"),
            (json!("rust"), "not a string: \"rust\""),
            (json!(3), "not a number: 3"),
            (json!(true), "not a boolean: true"),
        ];
        for (value, expected) in cases {
            let error = Arguments::from(value).into_object().expect_err("refused");
            assert_eq!(
                error.to_string(),
                format!("tool arguments must be a JSON object, {expected}")
            );
        }
    }

    #[test]
    fn a_long_refused_value_is_truncated_in_the_message() {
        let error = Arguments::from(json!("é".repeat(100)))
            .into_object()
            .expect_err("refused");
        let message = error.to_string();
        assert!(message.ends_with('…'), "{message}");
        assert!(message.len() < 160, "{message}");
    }

    #[test]
    fn the_error_is_an_invalid_params_call_error() {
        let error = Arguments::from(json!([1]))
            .into_object()
            .expect_err("refused");
        let call = crate::CallError::from(error);
        assert_eq!(call.code(), -32602);
        assert_eq!(
            call.message(),
            "tool arguments must be a JSON object, not an array: [1]"
        );
    }
}
