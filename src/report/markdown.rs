//! Placeholder until the Markdown -> HTML converter lands.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MarkdownError(pub String);
pub fn markdown_to_html(md: &str, _figures: &dyn Fn(&str) -> Option<String>) -> Result<String, MarkdownError> {
    Ok(format!("<pre>{}</pre>", md.replace('&', "&amp;").replace('<', "&lt;")))
}
pub const STYLE: &str = "";
