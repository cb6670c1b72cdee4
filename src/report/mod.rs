//! Rendering: templates -> Markdown -> HTML, figures, data tables.
