//! PDF files: the text of each page ([`footnote_pdf`]), each page a region,
//! so that a passage knows the page it starts on.

use crate::extract::{Extracted, Region};

pub fn extract(bytes: &[u8]) -> Result<Extracted, String> {
    let pdf = footnote_pdf::read(bytes)?;
    let mut text = String::new();
    let mut regions = Vec::with_capacity(pdf.pages.len());
    for (index, page) in pdf.pages.iter().enumerate() {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        regions.push(Region { start: text.len(), page: Some(index as u32 + 1), section: None });
        text.push_str(page);
    }
    Ok(Extracted { text, title: pdf.title, source: None, date: None, regions })
}
