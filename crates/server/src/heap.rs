//! The process's heap, which glibc keeps freed memory in for later
//! allocations instead of handing it back to the system, and the pages of
//! the models' weights, which stay resident once read.

/// Hands the memory freed so far back to the system. A server calls it where
/// much was just freed and little will soon be allocated again: after loading
/// its models (the model files' bytes and ONNX Runtime's parse of them), and
/// after an ingest (the documents' bytes, their passages and vectors: 25 MiB
/// after squad2-dev's 16 articles, for 4-6 ms). Without it a server holds that
/// memory until it stops (docs/benchmarks.md, "Serving memory"). The pages of
/// the models' weights an ingest read (the word pieces its texts used) go back
/// too: they are read from disk again when needed.
pub fn return_freed_memory() {
    footnote_onnx::return_weight_pages();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the system; it takes no
    // pointer and leaves every live allocation where it is.
    unsafe {
        libc::malloc_trim(0);
    }
}
