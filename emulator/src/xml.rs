//! A minimal XML writer for awsQuery answers: elements, escaped text, nothing else.

/// Escapes text for use in XML element content or attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all are replaced rather than emitted.
            c if is_forbidden(c) => out.push('\u{FFFD}'),
            // Keep line ends and tabs intact through attribute/whitespace normalisation.
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

fn is_forbidden(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// Builds an XML document element by element.
#[derive(Debug, Default)]
pub(crate) struct XmlWriter {
    out: String,
    open: Vec<String>,
}

impl XmlWriter {
    /// Starts a document whose root element carries `xmlns`.
    pub(crate) fn document(root: &str, namespace: &str) -> Self {
        let mut w = XmlWriter {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
            open: Vec::new(),
        };
        w.out
            .push_str(&format!("<{root} xmlns=\"{}\">", escape(namespace)));
        w.open.push(root.to_string());
        w
    }

    /// Opens a child element.
    pub(crate) fn start(&mut self, name: &str) -> &mut Self {
        self.out.push_str(&format!("<{name}>"));
        self.open.push(name.to_string());
        self
    }

    /// Closes the innermost open element.
    pub(crate) fn end(&mut self) -> &mut Self {
        if let Some(name) = self.open.pop() {
            self.out.push_str(&format!("</{name}>"));
        }
        self
    }

    /// Writes `<name>text</name>` with the text escaped.
    pub(crate) fn text(&mut self, name: &str, text: &str) -> &mut Self {
        self.out
            .push_str(&format!("<{name}>{}</{name}>", escape(text)));
        self
    }

    /// Writes the element only when there is a value.
    pub(crate) fn opt_text(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.text(name, text);
        }
        self
    }

    /// Closes every open element and returns the document.
    pub(crate) fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.end();
        }
        self.out
    }
}

/// An awsQuery answer: `<ActionResponse xmlns=NAMESPACE>`, the
/// `<ActionResult>` that `result` fills, then the request id.
pub(crate) fn query_response(
    namespace: &str,
    action: &str,
    request_id: &str,
    result: impl FnOnce(&mut XmlWriter),
) -> String {
    let mut w = XmlWriter::document(&format!("{action}Response"), namespace);
    w.start(&format!("{action}Result"));
    result(&mut w);
    w.end();
    w.start("ResponseMetadata")
        .text("RequestId", request_id)
        .end();
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(escape("x\u{1}y"), "x\u{FFFD}y");
    }

    #[test]
    fn nests_and_closes_elements() {
        let mut w = XmlWriter::document("R", "urn:x");
        w.start("A").text("B", "<1>").end();
        let doc = w.finish();
        assert!(doc.ends_with("<R xmlns=\"urn:x\"><A><B>&lt;1&gt;</B></A></R>"));
    }
}
