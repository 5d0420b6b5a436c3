//! For each extractor and file: pages, time per pass (best of several),
//! pages per second, and how many of the file's expected sentences appear
//! whole (whitespace squeezed) in the text, in the order given.

use std::time::{Duration, Instant};

const PASSES: usize = 20;

type Extractor = fn(&[u8]) -> Result<Vec<String>, String>;

fn pdf_extract(bytes: &[u8]) -> Result<Vec<String>, String> {
    pdf_extract::extract_text_from_mem_by_pages(bytes).map_err(|e| e.to_string())
}

fn pdf_oxide(bytes: &[u8]) -> Result<Vec<String>, String> {
    let document = pdf_oxide::PdfDocument::from_bytes(bytes.to_vec()).map_err(|e| e.to_string())?;
    if document.is_encrypted() && !document.is_authenticated() {
        return Err("encrypted".into());
    }
    let pages = document.page_count().map_err(|e| e.to_string())?;
    (0..pages).map(|page| document.extract_text(page).map_err(|e| e.to_string())).collect()
}

/// What footnote reads: pdf_oxide's spans in its own reading order, running
/// headers and footers removed.
fn footnote_pdf(bytes: &[u8]) -> Result<Vec<String>, String> {
    footnote_pdf::read(bytes).map(|text| text.pages)
}

fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let expected_file = args.next().expect("usage: pdf-extractors EXPECTED_SENTENCES.tsv PDF...");
    let table = std::fs::read_to_string(&expected_file).expect("expected sentences");
    let expected: Vec<(String, String)> = table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once('\t'))
        .map(|(file, sentence)| (file.to_string(), squeeze(sentence)))
        .collect();
    let files: Vec<String> = args.collect();
    println!("| extractor | file | pages | ms per pass | pages/s | expected sentences read whole and in order |");
    println!("|---|---|---:|---:|---:|---|");
    let extractors = [
        ("pdf-extract 0.12.1", pdf_extract as Extractor),
        ("pdf_oxide 0.3.78 extract_text", pdf_oxide as Extractor),
        ("footnote-pdf (pdf_oxide spans)", footnote_pdf as Extractor),
    ];
    for (name, extract) in extractors {
        for file in &files {
            let bytes = std::fs::read(file).expect("readable file");
            let short = file.rsplit('/').next().unwrap_or(file);
            let mut best = Duration::MAX;
            let mut result = Err(String::new());
            for _ in 0..PASSES {
                let started = Instant::now();
                result = extract(&bytes);
                best = best.min(started.elapsed());
            }
            match result {
                Ok(pages) => {
                    let text = squeeze(&pages.join("\n"));
                    let mut position = 0;
                    let mut whole = 0;
                    let mine: Vec<&String> = expected.iter().filter(|(f, _)| f == short).map(|(_, s)| s).collect();
                    for sentence in &mine {
                        if let Some(at) = text[position..].find(sentence.as_str()) {
                            whole += 1;
                            position += at + sentence.len();
                        }
                    }
                    let checked = if mine.is_empty() { "-".to_string() } else { format!("{whole} of {}", mine.len()) };
                    let ms = best.as_secs_f64() * 1000.0;
                    println!("| {name} | {short} | {} | {ms:.2} | {:.0} | {checked} |", pages.len(), pages.len() as f64 / best.as_secs_f64());
                }
                Err(error) => println!("| {name} | {short} | - | - | - | error: {} |", error.lines().next().unwrap_or("")),
            }
        }
    }
}
