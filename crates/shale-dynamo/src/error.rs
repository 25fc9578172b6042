//! DynamoDB errors: the `__type` name, message and HTTP status a client sees.

use serde_json::{Map, Value, json};

/// Namespace of DynamoDB's own error names (`ResourceNotFoundException`,
/// `ConditionalCheckFailedException`, `TransactionCanceledException`, …).
const DYNAMO_NS: &str = "com.amazonaws.dynamodb.v20120810#";
/// Namespace DynamoDB's service framework uses for errors raised before an
/// operation runs: the body cannot be read, the target is unknown, the request is
/// not (correctly) signed.
const CORAL_NS: &str = "com.amazon.coral.service#";
/// Namespace of DynamoDB's `ValidationException`: the request's parameters failed
/// validation (`{"__type":"com.amazon.coral.validate#ValidationException",…}` is
/// what the live service sends).
const VALIDATE_NS: &str = "com.amazon.coral.validate#";

/// One DynamoDB error response.
#[derive(Clone, Debug, PartialEq)]
pub struct DynError {
    /// The error name, e.g. `ValidationException`.
    pub name: &'static str,
    /// The human-readable message.
    pub message: String,
    /// The HTTP status (400 for client errors, 500 for internal ones).
    pub status: u16,
    /// Extra fields of the error body (`CancellationReasons`, `Item`).
    pub extra: Map<String, Value>,
}

impl DynError {
    /// An error named `name` with `message` and status 400.
    pub fn new(name: &'static str, message: impl Into<String>) -> Self {
        DynError {
            name,
            message: message.into(),
            status: 400,
            extra: Map::new(),
        }
    }

    /// `ValidationException`: the request's parameters are wrong.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }

    /// `SerializationException`: the body is not the JSON the operation expects.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", message)
    }

    /// `ResourceNotFoundException` for a missing table.
    pub fn not_found() -> Self {
        Self::new("ResourceNotFoundException", "Requested resource not found")
    }

    /// `ConditionalCheckFailedException`.
    pub fn conditional() -> Self {
        Self::new(
            "ConditionalCheckFailedException",
            "The conditional request failed",
        )
    }

    /// `InternalServerError` (HTTP 500) for an engine failure.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "dynamo: engine error");
        DynError {
            status: 500,
            ..Self::new("InternalServerError", "Internal server error")
        }
    }

    /// The `__type` namespace DynamoDB uses for an error named `name`.
    pub fn namespace(name: &str) -> &'static str {
        match name {
            "ValidationException" => VALIDATE_NS,
            "SerializationException"
            | "UnknownOperationException"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "MissingAuthenticationTokenException"
            | "IncompleteSignatureException" => CORAL_NS,
            _ => DYNAMO_NS,
        }
    }

    /// The JSON body DynamoDB sends for this error.
    pub fn body(&self) -> Value {
        let ns = Self::namespace(self.name);
        let mut m = Map::new();
        m.insert("__type".into(), json!(format!("{ns}{}", self.name)));
        m.insert("message".into(), json!(self.message));
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }
}

impl From<shaledb::Error> for DynError {
    fn from(e: shaledb::Error) -> Self {
        DynError::internal(e)
    }
}

/// Result of a DynamoDB operation.
pub type DynResult<T> = Result<T, DynError>;
