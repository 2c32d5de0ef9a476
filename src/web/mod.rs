//! Server-rendered HTML. For now the generated transition forms; the pages
//! staff use (inbox, case, workflow editor) come with the web issue.

mod form;

pub use form::{escape, render_form};
