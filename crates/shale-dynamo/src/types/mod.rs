//! DynamoDB data types.

pub mod number;
pub mod value;
