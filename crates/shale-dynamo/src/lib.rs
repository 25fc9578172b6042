//! ShaleDB's DynamoDB-compatible HTTP front end.
//!
//! Speaks the DynamoDB JSON protocol (`POST /` with `X-Amz-Target:
//! DynamoDB_20120810.<Operation>`) so the AWS SDKs, the AWS CLI and boto3 work
//! against ShaleDB by pointing `endpoint_url` at it. Tables are engine keyspaces
//! (`dynamo.<table>`) described in a catalog keyspace (`dynamo:catalog`); item keys
//! are an order-preserving encoding of the primary key so that `Query` is a range
//! scan. See `docs/dynamo.md` and `docs/format/dynamo.md`.

pub mod catalog;
pub mod config;
pub mod error;
pub mod expr;
pub mod http;
pub mod keys;
pub mod ops;
pub mod sigv4;
pub mod types;

pub use config::{Credential, DynamoConfig};
pub use error::DynError;
pub use http::{router, serve};
