//! DynamoDB expressions: lexing, parsing, evaluation and updates.

pub mod eval;
pub mod lexer;
pub mod parser;
pub mod update;
