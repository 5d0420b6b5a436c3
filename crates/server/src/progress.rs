//! The ingest progress bar: documents, passages and rate, drawn only on a terminal.

use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct IngestBar {
    bar: ProgressBar,
    passages: AtomicUsize,
}

impl IngestBar {
    pub fn new() -> Self {
        // indicatif hides itself when stderr is not a terminal.
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} documents {msg}")
                .expect("valid template"),
        );
        IngestBar { bar, passages: AtomicUsize::new(0) }
    }
}

impl footnote_ingest::Progress for IngestBar {
    fn start(&self, documents: usize) {
        self.bar.set_length(documents as u64);
    }

    fn document_done(&self, _id: &str, passages_written: usize) {
        let total = self.passages.fetch_add(passages_written, Ordering::Relaxed) + passages_written;
        let rate = total as f64 / self.bar.elapsed().as_secs_f64().max(1e-3);
        self.bar.set_message(format!("· {total} passages · {rate:.0} passages/s"));
        self.bar.inc(1);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
