//! Tables: the streaming [`TableBuilder`], the [`Table`] reader and its
//! [`TableIterator`].

mod builder;
mod index_heads;
mod iter;
mod reader;

pub use builder::{TableBuilder, TableMeta};
pub use iter::TableIterator;
pub use reader::Table;
