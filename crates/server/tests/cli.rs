//! End-to-end tests of the index commands: the real binary, the real ONNX model
//! (FOOTNOTE_MODEL_DIR), the real Qdrant Edge engine and the seed documents.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use footnote_index::{Index, Location, ModelSource, duplicate_key};
use serde_json::Value;
use tempfile::TempDir;

fn model_dir() -> PathBuf {
    let dir = std::env::var_os("FOOTNOTE_MODEL_DIR")
        .expect("FOOTNOTE_MODEL_DIR must point at the model (scripts/test.sh sets it)");
    assert!(std::env::var_os("ORT_DYLIB_PATH").is_some(), "ORT_DYLIB_PATH must be set (scripts/test.sh sets it)");
    PathBuf::from(dir)
}

fn seeds() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../seeds")
}

fn footnote(data_dir: &Path) -> Command {
    let mut command = Command::cargo_bin("footnote").expect("binary built");
    command.env("FOOTNOTE_DATA_DIR", data_dir).env("FOOTNOTE_MODEL_DIR", model_dir()).env("FOOTNOTE_MODEL_FILE", "model.onnx");
    command
}

fn json_output(command: &mut Command) -> Value {
    let output = command.output().expect("runs");
    assert!(output.status.success(), "failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("stdout is one JSON document")
}

fn failure(command: &mut Command) -> String {
    let output = command.output().expect("runs");
    assert!(!output.status.success(), "expected failure, got: {}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn ingest(data: &Path, path: &Path) -> Value {
    json_output(footnote(data).args(["ingest", "--json"]).arg(path))
}

fn passages(data: &Path, doc: Option<&str>) -> Vec<Value> {
    let mut command = footnote(data);
    command.args(["passages", "--json"]);
    if let Some(doc) = doc {
        command.args(["--doc", doc]);
    }
    json_output(&mut command)["passages"].as_array().expect("passages array").clone()
}

fn texts(passages: &[Value]) -> Vec<String> {
    passages.iter().map(|p| p["text"].as_str().expect("text").to_string()).collect()
}

/// One ingest of the seeds shared by the read-only tests.
fn seeded() -> &'static Path {
    static DATA: std::sync::OnceLock<TempDir> = std::sync::OnceLock::new();
    DATA.get_or_init(|| {
        let data = TempDir::new().unwrap();
        let report = ingest(data.path(), &seeds());
        assert_eq!(report["added"], 5, "{report}");
        data
    })
    .path()
}

#[test]
fn seed_text_is_repaired() {
    let all = texts(&passages(seeded(), None));
    let joined = all.join("\n");
    for bad in ['\u{FFFD}', '\u{3FFFF}'] {
        assert!(!joined.contains(bad), "{bad:?} left in the passages");
    }
    for repaired in ["influence", "figure", "first", "official", "conflict", "Kazakhstan has been following"] {
        assert!(joined.contains(repaired), "{repaired:?} missing");
    }
    for damage in ["inÀuence", "conÀict", "íîÿáðÿ", "democrati- zation", "Skip to main content", "Ph./Fax", "© 2022", "parties1 "] {
        assert!(!joined.contains(damage), "{damage:?} survived cleaning");
    }
    // Hyphenated line breaks closed up, compounds kept.
    assert!(joined.contains("democratization"));
    assert!(joined.contains("well-balanced"));
    // The reference list of seed 001 is not stored.
    assert!(!joined.contains("https://www.rbc.ru"), "reference list stored");
}

#[test]
fn seed_damage_is_found_by_the_general_rules() {
    let source = ModelSource::Directory { path: model_dir(), onnx_file: "model.onnx".into() };
    let scratch = TempDir::new().unwrap();
    let index = Index::open(&Location::Embedded(scratch.path().to_path_buf()), &source).unwrap();
    let lexicon = footnote_ingest::Lexicon::new(index.embedder().vocabulary());
    let read = |name: &str| std::fs::read_to_string(seeds().join(name)).unwrap();
    // Seed 001 carries "22 íîÿáðÿ 2022" (Cyrillic read as Latin-1) in its repeated copy.
    let web = footnote_ingest::clean::clean(&read("001_12cff05f749eef20.txt"), &lexicon);
    assert_eq!(web.repairs.mojibake_words, 1);
    assert!(web.repairs.chrome_lines >= 10 && web.repairs.reference_entries >= 6, "{:?}", web.repairs);
    // Seed 002 is a PDF extraction: ligatures, replacement characters, hyphenation, footnotes.
    let pdf = footnote_ingest::clean::clean(&read("002_d2c79b863120379e.txt"), &lexicon);
    let r = &pdf.repairs;
    assert!(r.glyphs >= 40 && r.replacement_chars >= 100 && r.hyphenations >= 50 && r.footnote_marks >= 15, "{r:?}");
}

#[test]
fn no_passage_is_stored_twice_or_exceeds_the_model_input() {
    let stored = passages(seeded(), None);
    let mut keys = HashSet::new();
    for text in texts(&stored) {
        assert!(keys.insert(duplicate_key(&text)), "stored twice: {text}");
    }
    // Seed 001 repeats its article after the page footer: the copy is dropped.
    let article = texts(&passages(seeded(), Some("001_12cff05f749eef20.txt"))).join("\n");
    assert_eq!(article.matches("In the current international political context").count(), 1);

    let source = ModelSource::Directory { path: model_dir(), onnx_file: "model.onnx".into() };
    let scratch = TempDir::new().unwrap();
    let index = Index::open(&Location::Embedded(scratch.path().to_path_buf()), &source).unwrap();
    for text in texts(&stored) {
        let pieces = index.embedder().count_word_pieces(&text);
        assert!(pieces <= index.embedder().max_word_pieces(), "{pieces} word pieces: {text}");
    }
}

#[test]
fn passages_carry_document_order_and_spans() {
    let stored = passages(seeded(), Some("003_0db571ac51d195cc.txt"));
    assert!(stored.len() >= 3);
    let mut previous_end = 0;
    for (position, passage) in stored.iter().enumerate() {
        assert_eq!(passage["position"], position);
        assert_eq!(passage["doc_id"], "003_0db571ac51d195cc.txt");
        assert_eq!(passage["title"], "Kazakhstan Reaffirms Ties to Russia as It Enters the Final Stage of Leadership Succession");
        let (start, end) = (passage["start"].as_u64().unwrap(), passage["end"].as_u64().unwrap());
        assert!(start >= previous_end && end > start);
        assert_eq!(end - start, passage["text"].as_str().unwrap().chars().count() as u64);
        previous_end = end;
    }
}

#[test]
fn docs_lists_every_seed_with_its_metadata() {
    let docs = json_output(footnote(seeded()).args(["docs", "--json"]));
    let docs = docs["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 5);
    let caspian = docs.iter().find(|d| d["id"] == "001_12cff05f749eef20.txt").unwrap();
    assert_eq!(caspian["source"], "https://caspian.institute");
    assert!(caspian["passages"].as_u64().unwrap() > 5);
}

#[test]
fn the_example_question_ranks_an_early_election_passage_in_the_top_3() {
    let result = json_output(footnote(seeded()).args(["search", "why did Tokayev call early elections?", "-k", "3", "--json"]));
    let hits = result["results"].as_array().unwrap();
    assert_eq!(hits.len(), 3);
    for hit in hits {
        for key in ["id", "doc_id", "title", "text", "position", "score"] {
            assert!(!hit[key].is_null(), "{key} missing in {hit}");
        }
    }
    let about_early_election = |text: &str| {
        let t = text.to_lowercase();
        (t.contains("early") || t.contains("extraordinary") || t.contains("snap") || t.contains("off-year"))
            && t.contains("election")
    };
    assert!(
        hits.iter().any(|h| about_early_election(h["text"].as_str().unwrap())),
        "no early-election passage in the top 3: {result:#}"
    );
}

#[test]
fn search_can_be_limited_to_one_document() {
    let result = json_output(footnote(seeded()).args([
        "search", "Tokayev election", "-k", "4", "--doc", "004_fc8d88c85769860e.txt", "--json",
    ]));
    let hits = result["results"].as_array().unwrap();
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|h| h["doc_id"] == "004_fc8d88c85769860e.txt"));
}

#[test]
fn reingest_is_idempotent_and_a_changed_document_is_replaced() {
    let data = TempDir::new().unwrap();
    let docs = TempDir::new().unwrap();
    for entry in std::fs::read_dir(seeds()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), docs.path().join(entry.file_name())).unwrap();
    }
    let first = ingest(data.path(), docs.path());
    assert_eq!((first["added"].as_u64(), first["unchanged"].as_u64()), (Some(5), Some(0)));
    let before = passages(data.path(), None);

    let again = ingest(data.path(), docs.path());
    assert_eq!((again["added"].as_u64(), again["unchanged"].as_u64(), again["passages_written"].as_u64()), (Some(0), Some(5), Some(0)));
    assert_eq!(passages(data.path(), None), before);

    let changed = docs.path().join("003_0db571ac51d195cc.txt");
    let text = std::fs::read_to_string(&changed).unwrap().replace("June 9", "June 19");
    std::fs::write(&changed, text + "\n\nA closing paragraph about the Astana summit added in a later revision of the article.\n").unwrap();
    let third = ingest(data.path(), docs.path());
    assert_eq!((third["replaced"].as_u64(), third["unchanged"].as_u64()), (Some(1), Some(4)));

    let doc = texts(&passages(data.path(), Some("003_0db571ac51d195cc.txt"))).join("\n");
    assert!(doc.contains("June 19") && doc.contains("Astana summit"));
    assert!(!doc.contains("June 9,") && !doc.contains("June 9 "), "a stale passage survived");
    let summary = json_output(footnote(data.path()).args(["docs", "--json"]));
    let entry = summary["documents"].as_array().unwrap().iter().find(|d| d["id"] == "003_0db571ac51d195cc.txt").unwrap().clone();
    assert_eq!(entry["passages"].as_u64().unwrap() as usize, passages(data.path(), Some("003_0db571ac51d195cc.txt")).len());
}

#[test]
fn delete_removes_a_document_and_all_its_passages() {
    let data = TempDir::new().unwrap();
    ingest(data.path(), &seeds());
    let total = passages(data.path(), None).len();
    let doc = passages(data.path(), Some("000_84d12da1eb4c21f8.txt")).len();
    footnote(data.path()).args(["delete", "000_84d12da1eb4c21f8.txt"]).assert().success();
    assert_eq!(passages(data.path(), None).len(), total - doc);
    assert!(failure(footnote(data.path()).args(["passages", "--doc", "000_84d12da1eb4c21f8.txt"])).contains("no document"));
    assert!(failure(footnote(data.path()).args(["delete", "000_84d12da1eb4c21f8.txt"])).contains("no document"));
    let docs = json_output(footnote(data.path()).args(["docs", "--json"]));
    assert_eq!(docs["documents"].as_array().unwrap().len(), 4);
    // Ingesting again brings it back, and only it.
    let report = ingest(data.path(), &seeds());
    assert_eq!((report["added"].as_u64(), report["unchanged"].as_u64()), (Some(1), Some(4)));
}

#[test]
fn an_interrupted_write_is_finished_by_the_next_run() {
    let data = TempDir::new().unwrap();
    let docs = TempDir::new().unwrap();
    let file = docs.path().join("note.md");
    std::fs::write(&file, "# Note\n\nThe first version says the vote was held on June 9, 2019 after the resignation.\n").unwrap();
    ingest(data.path(), docs.path());
    let clean_run = TempDir::new().unwrap();
    std::fs::write(&file, "# Note\n\nThe second version says the vote took place in June 2019, after Nazarbayev resigned in March.\n\n## More\n\nIt adds a second section on the 2022 snap election that Tokayev called in September.\n").unwrap();
    ingest(clean_run.path(), docs.path());
    let expected = passages(clean_run.path(), None);

    // Simulate a crash after half of the new version's passages were written:
    // write them with the library, without removing the old version.
    {
        let source = ModelSource::Directory { path: model_dir(), onnx_file: "model.onnx".into() };
        let index = Index::open(&Location::Embedded(data.path().to_path_buf()), &source).unwrap();
        let ingestor = footnote_ingest::Ingestor::new(&index);
        let raw = std::fs::read_to_string(&file).unwrap();
        let prepared = ingestor.prepare("note.md", footnote_ingest::Format::Markdown, &raw, &Default::default(), None);
        let passage = prepared.passages[0].clone();
        let vector = index.embedder().embed_passages(&[passage.text.as_str()]).unwrap().remove(0);
        index
            .store()
            .upsert(vec![footnote_index::StoredPoint {
                id: footnote_index::point_id("note.md", &prepared.meta.content_hash, passage.position),
                document: prepared.meta.clone(),
                document_passages: prepared.passages.len(),
                sparse: index.sparse().encode_passage(&passage.text),
                passage,
                added: None,
                dense: vector,
            }])
            .unwrap();
        index.store().flush().unwrap();
    }
    let report = ingest(data.path(), docs.path());
    assert_eq!(report["replaced"], 1, "{report}");
    assert_eq!(passages(data.path(), None), expected);
}

#[test]
fn html_markdown_and_odd_files_are_read_or_skipped_with_reasons() {
    let data = TempDir::new().unwrap();
    let docs = TempDir::new().unwrap();
    std::fs::write(
        docs.path().join("page.html"),
        "<html><head><title>Snap polls</title><script>var x = 'tracking';</script></head><body>\
         <nav><a href='/'>Home</a> <a href='/r'>Reports</a></nav><article><h1>Snap polls</h1>\
         <p>Kazakhstan held a snap presidential election in November 2022 after constitutional reforms.</p>\
         <p>Observers noted a turnout of about seventy percent across the regions of the country.</p></article>\
         <footer>Copyright 2024 Example News. All rights reserved.</footer></body></html>",
    )
    .unwrap();
    std::fs::create_dir(docs.path().join("notes")).unwrap();
    std::fs::write(docs.path().join("notes/summary.md"), "# Summary\n\n**Tokayev** was re-elected with 81% of the vote.\n").unwrap();
    std::fs::write(docs.path().join("table.csv"), "a,b\n1,2\n").unwrap();
    std::fs::write(docs.path().join("legacy.txt"), b"Caf\xe9 society in Almaty discussed the election results at length.\n").unwrap();

    let report = ingest(data.path(), docs.path());
    assert_eq!(report["added"], 3, "{report}");
    let skipped = report["skipped"].to_string();
    assert!(skipped.contains("table.csv"), "{skipped}");
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("legacy.txt") && warnings.contains("UTF-8"), "{warnings}");

    let html = texts(&passages(data.path(), Some("page.html"))).join("\n");
    assert!(html.contains("snap presidential election"));
    for chrome in ["tracking", "Reports", "Copyright"] {
        assert!(!html.contains(chrome), "{chrome:?} kept from the page");
    }
    let docs_json = json_output(footnote(data.path()).args(["docs", "--json"]));
    let ids: Vec<&str> = docs_json["documents"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["legacy.txt", "notes/summary.md", "page.html"]);
    assert!(texts(&passages(data.path(), Some("legacy.txt")))[0].starts_with("Café society"));
    assert_eq!(docs_json["documents"][2]["title"], "Snap polls");
}

#[test]
fn errors_are_one_clear_line_naming_the_problem() {
    let data = TempDir::new().unwrap();
    let missing = failure(footnote(data.path()).args(["ingest", "/no/such/folder"]));
    assert!(missing.contains("/no/such/folder"), "{missing}");
    assert_eq!(missing.trim().lines().count(), 1, "{missing}");

    // A file named on its own that footnote cannot read fails the command, naming it.
    let odd = TempDir::new().unwrap();
    let sheet = odd.path().join("report.xlsx");
    std::fs::write(&sheet, b"PK not really").unwrap();
    let unreadable = failure(footnote(data.path()).arg("ingest").arg(&sheet));
    assert!(unreadable.contains("report.xlsx") && unreadable.contains("not a .txt, .md, .html, .pdf, .docx or .odt file"), "{unreadable}");
    assert_eq!(unreadable.trim().lines().count(), 1, "{unreadable}");
    let empty = odd.path().join("empty.txt");
    std::fs::write(&empty, "  \n").unwrap();
    let nothing = failure(footnote(odd.path().join("index").as_path()).arg("ingest").arg(&empty));
    assert!(nothing.contains("empty.txt") && nothing.contains("no text"), "{nothing}");
    let binary = odd.path().join("tool.txt");
    std::fs::write(&binary, b"\x7fELF\x02\x01\x01\x00\x00\x00 strings of a program").unwrap();
    let refused = failure(footnote(odd.path().join("index").as_path()).arg("ingest").arg(&binary));
    assert!(refused.contains("tool.txt") && refused.contains("binary content"), "{refused}");

    let no_runtime = failure(footnote(data.path()).env("ORT_DYLIB_PATH", "/nope/libonnxruntime.so").args(["search", "x"]));
    assert!(no_runtime.contains("ORT_DYLIB_PATH"), "{no_runtime}");

    let no_model = failure(footnote(data.path()).env("FOOTNOTE_MODEL_DIR", "/nope/model").args(["search", "x"]));
    assert!(no_model.contains("FOOTNOTE_MODEL_DIR") && no_model.contains("/nope/model"), "{no_model}");

    assert!(std::fs::read_dir(data.path()).unwrap().next().is_none(), "a failed ingest created files");

    // The answer judge's model missing: one line naming the setting; --judge
    // off answers without it.
    let no_judge = failure(footnote(seeded()).env("FOOTNOTE_RERANKER_DIR", "/nope/reranker").args(["ask", "Who replaced Nazarbayev?"]));
    assert!(no_judge.contains("FOOTNOTE_RERANKER_DIR") && no_judge.contains("/nope/reranker"), "{no_judge}");
    assert_eq!(no_judge.trim().lines().count(), 1, "{no_judge}");
    let unjudged = json_output(
        footnote(seeded()).env("FOOTNOTE_RERANKER_DIR", "/nope/reranker").args(["ask", "Who replaced Nazarbayev?", "--judge", "off", "--json"]),
    );
    assert_eq!(unjudged["answer"]["abstained"], false, "{unjudged:#}");
    assert!(unjudged["citations"].as_array().unwrap().iter().all(|c| c["support"].is_null()), "{unjudged:#}");
    assert!(unjudged["confidence"]["sentence_support"].is_null());
    let never_ingested = failure(footnote(data.path()).args(["docs"]));
    assert!(never_ingested.contains("footnote ingest"), "{never_ingested}");
}

/// `--model-file auto` (the default outside the tests): an index keeps the file
/// it was built with on any machine, and a new one gets the CPU's choice.
#[test]
fn the_automatic_model_file_is_the_one_the_index_was_built_with() {
    let docs = TempDir::new().unwrap();
    std::fs::write(docs.path().join("a.txt"), "Tokayev called an early presidential election for June 9, 2019.\n").unwrap();
    let recorded = |data: &Path| {
        let manifest: Value = serde_json::from_slice(&std::fs::read(data.join("index.json")).unwrap()).unwrap();
        manifest["model"]["name"].as_str().unwrap().to_string()
    };
    // Built with the per-tensor int8 file, which auto never picks for a new index.
    let int8 = TempDir::new().unwrap();
    json_output(footnote(int8.path()).env("FOOTNOTE_MODEL_FILE", "model-int8.onnx").args(["ingest", "--json"]).arg(docs.path()));
    let found = json_output(footnote(int8.path()).env_remove("FOOTNOTE_MODEL_FILE").args(["search", "election", "--json"]));
    assert_eq!(found["results"].as_array().unwrap().len(), 1, "auto opens the int8 index with its file");
    let refused = failure(footnote(int8.path()).args(["search", "election"]));
    assert!(refused.contains("re-ingest"), "a named file still has to match: {refused}");

    let fresh = TempDir::new().unwrap();
    json_output(footnote(fresh.path()).env_remove("FOOTNOTE_MODEL_FILE").args(["ingest", "--json"]).arg(docs.path()));
    let file = footnote_index::choose_model_file(&model_dir(), None);
    let expected = match file.as_str() {
        "model.onnx" => "all-MiniLM-L6-v2".to_string(),
        other => format!("all-MiniLM-L6-v2/{}", other.trim_end_matches(".onnx")),
    };
    assert_eq!(recorded(fresh.path()), expected, "a new index gets this CPU's file ({file})");
    let found = json_output(footnote(fresh.path()).env_remove("FOOTNOTE_MODEL_FILE").args(["search", "election", "--json"]));
    assert_eq!(found["results"].as_array().unwrap().len(), 1);
}

#[test]
fn a_locked_or_foreign_index_is_refused() {
    let data = TempDir::new().unwrap();
    let docs = TempDir::new().unwrap();
    std::fs::write(docs.path().join("a.txt"), "Tokayev called an early presidential election for June 9, 2019.\n").unwrap();
    ingest(data.path(), docs.path());

    let source = ModelSource::Directory { path: model_dir(), onnx_file: "model.onnx".into() };
    let held = Index::open(&Location::Embedded(data.path().to_path_buf()), &source).unwrap();
    let locked = failure(footnote(data.path()).args(["search", "election"]));
    assert!(locked.contains("in use by another footnote process"), "{locked}");
    drop(held);

    let other_model = failure(footnote(data.path()).env("FOOTNOTE_MODEL_FILE", "model-int8.onnx").args(["search", "election"]));
    assert!(other_model.contains("re-ingest") && other_model.contains("model-int8"), "{other_model}");
    // Nothing was lost: the index still answers with the model that built it.
    let result = json_output(footnote(data.path()).args(["search", "election", "--json"]));
    assert_eq!(result["results"].as_array().unwrap().len(), 1);
}

fn ask(data: &Path, question: &str, after: &[&str]) -> Value {
    let mut command = footnote(data);
    command.args(["ask", question, "--json"]);
    for previous in after {
        command.args(["--after", previous]);
    }
    json_output(&mut command)
}

#[test]
fn the_example_question_is_answered_with_matching_markers_and_sources() {
    let response = ask(seeded(), "why did Tokayev call early elections?", &[]);
    for key in ["question", "answer", "citations", "timings_ms"] {
        assert!(!response[key].is_null(), "{key} missing: {response:#}");
    }
    let answer = &response["answer"];
    assert_eq!(answer["abstained"], false);
    let text = answer["text"].as_str().unwrap();
    let citations = response["citations"].as_array().unwrap();
    assert!(!citations.is_empty());
    for (i, citation) in citations.iter().enumerate() {
        assert_eq!(citation["n"], i + 1);
        assert!(text.contains(&format!("[{}]", i + 1)), "source {} never cited in {text}", i + 1);
        for key in ["passage_id", "doc_id", "title", "text", "score"] {
            assert!(!citation[key].is_null(), "{key} missing");
        }
        // The answer judge's verdict on what cites this passage, when it read
        // those sentences.
        if let Some(support) = citation["support"].as_f64() {
            assert!(support > 0.0 && support <= 1.0, "{support}");
        } else {
            assert!(citation["support"].is_null(), "{citation:#}");
        }
    }
    assert!(citations.iter().any(|c| c["support"].as_f64().is_some()), "no judged citation: {response:#}");
    let confidence = &response["confidence"];
    assert!(confidence["sentence_support"].as_f64().is_some() && confidence["passage_support"].as_f64().is_some(), "{confidence:#}");
    assert!(!text.contains(&format!("[{}]", citations.len() + 1)), "a marker without a source: {text}");
    for sentence in answer["sentences"].as_array().unwrap() {
        for n in sentence["citations"].as_array().unwrap() {
            let n = n.as_u64().unwrap() as usize;
            assert!((1..=citations.len()).contains(&n));
            assert!(citations[n - 1]["text"].as_str().unwrap().contains(sentence["text"].as_str().unwrap()));
        }
    }
    // The reasons the documents give, for both early elections: the 2019 address
    // about removing uncertainty, and the 2022 domestic, socio-economic and
    // foreign-policy factors.
    assert!(text.contains("uncertainty"), "the 2019 reason is missing: {text}");
    assert!(text.contains("2022") && text.contains("foreign policy") && text.contains("social and economic"), "the 2022 factors are missing: {text}");
    let cited_doc = |prefix: &str| citations.iter().any(|c| c["doc_id"].as_str().unwrap().starts_with(prefix));
    assert!(cited_doc("001_") && (cited_doc("002_") || cited_doc("003_")), "{response:#}");
}

#[test]
fn out_of_scope_questions_and_small_talk_abstain() {
    for question in ["What is the capital of France?", "hello", "thanks, that's all"] {
        let response = ask(seeded(), question, &[]);
        assert_eq!(response["answer"]["abstained"], true, "{question}: {response:#}");
        assert!(response["citations"].as_array().unwrap().is_empty());
    }
}

#[test]
fn a_follow_up_is_answered_in_the_context_of_the_conversation() {
    let response = ask(seeded(), "and in 2019?", &["why did Tokayev call early elections?"]);
    assert_eq!(response["answer"]["abstained"], false, "{response:#}");
    let cited: String = response["citations"].as_array().unwrap().iter().map(|c| c["text"].as_str().unwrap().to_lowercase()).collect();
    assert!(cited.contains("2019") && cited.contains("election"), "{response:#}");
}

/// The seed bars of the answers issue, checked on every CI run: a change that
/// misses one fails the build.
#[test]
fn seed_evaluation_meets_its_quality_bars() {
    let scratch = TempDir::new().unwrap();
    let qa = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../eval/seeds-dev.jsonl");
    let report = json_output(footnote(scratch.path()).arg("eval").arg("--docs").arg(seeds()).arg("--qa").arg(&qa).arg("--json"));
    let metric = |key: &str| report[key].as_f64().unwrap_or_else(|| panic!("{key} missing: {report:#}"));
    assert!(report["answerable"].as_u64().unwrap() >= 25, "the seed set needs 25 answerable questions");
    assert!(report["questions"].as_u64().unwrap() - report["answerable"].as_u64().unwrap() >= 20);
    // Of the 20 unanswerable questions, 10 are off-topic or small talk and 10
    // are about the documents' subject but not answered by them (u11-u20).
    let bars = [
        ("recall_at_5", metric("recall_at_5") >= 0.90),
        ("answer_hit", metric("answer_hit") >= 0.78),
        ("citation_hit", metric("citation_hit") >= 0.85),
        ("abstain_rate_unanswerable", metric("abstain_rate_unanswerable") >= 0.55),
        ("abstain_rate_answerable", metric("abstain_rate_answerable") <= 0.10),
    ];
    for (name, met) in bars {
        assert!(met, "seed bar missed: {name} = {}", metric(name));
    }
    for key in ["recall_at_1", "recall_at_10", "mrr_at_10", "answer_hit", "citation_precision", "latency_ms_p50", "latency_ms_p95"] {
        metric(key);
    }

    // No answer cites page chrome, a reference list or the same text twice.
    let data = TempDir::new().unwrap();
    ingest(data.path(), &seeds());
    let stored = passages(data.path(), None);
    let ids: HashSet<&str> = stored.iter().map(|p| p["id"].as_str().unwrap()).collect();
    for question in report["per_question"].as_array().unwrap() {
        let cited: Vec<&str> = question["cited_passage_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        let texts: Vec<&str> = cited
            .iter()
            .map(|id| stored.iter().find(|p| p["id"] == *id).unwrap_or_else(|| panic!("cited {id} is not stored"))["text"].as_str().unwrap())
            .collect();
        assert!(cited.iter().all(|id| ids.contains(id)));
        let keys: HashSet<String> = texts.iter().map(|t| duplicate_key(t)).collect();
        assert_eq!(keys.len(), texts.len(), "{}: a duplicate passage cited", question["id"]);
        for text in texts {
            for chrome in ["http://", "https://", "See:", "Skip to main content", "©", "Ph./Fax", "Video URL"] {
                assert!(!text.contains(chrome), "{}: cited passage holds {chrome:?}: {text}", question["id"]);
            }
        }
    }
}

/// The held-out seed questions (`eval/seeds-test.jsonl`), on which no setting
/// was tuned: bars a little under what the judge reached when they were first
/// run (docs/benchmarks.md), so that one question changing its answer on
/// another CPU does not fail the build, but a real loss does.
#[test]
fn held_out_seed_questions_meet_their_bars() {
    let scratch = TempDir::new().unwrap();
    let qa = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../eval/seeds-test.jsonl");
    let report = json_output(footnote(scratch.path()).arg("eval").arg("--docs").arg(seeds()).arg("--qa").arg(&qa).arg("--json"));
    let metric = |key: &str| report[key].as_f64().unwrap_or_else(|| panic!("{key} missing: {report:#}"));
    assert_eq!((report["questions"].as_u64(), report["answerable"].as_u64()), (Some(30), Some(18)));
    let bars = [
        ("recall_at_5", metric("recall_at_5") >= 0.94),
        ("answer_hit", metric("answer_hit") >= 0.88),
        ("citation_hit", metric("citation_hit") >= 0.88),
        ("abstain_rate_unanswerable", metric("abstain_rate_unanswerable") >= 0.33),
        ("abstain_rate_answerable", metric("abstain_rate_answerable") <= 0.06),
    ];
    for (name, met) in bars {
        assert!(met, "held-out seed bar missed: {name} = {}", metric(name));
    }
}

/// Flags beat FOOTNOTE_* variables, which beat the config file, which beats
/// the defaults; secrets are masked; an unknown key in the file is named.
#[test]
fn config_shows_each_setting_with_its_source_and_masks_secrets() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("footnote.toml");
    std::fs::write(&file, "rate_limit = 25\naddr = \"0.0.0.0:9000\"\nadmin_token = \"s3cret\"\nmax_sentences = 4\n").unwrap();
    let output = footnote(dir.path())
        .env("FOOTNOTE_CONFIG", &file)
        .env("FOOTNOTE_RATE_LIMIT", "30")
        .env("FOOTNOTE_DATABASE_URL", "postgres://fn:pw@db/fn")
        .env("FOOTNOTE_LLM_API_KEY", "sk-llm-secret")
        .args(["config", "--max-sentences", "2", "--llm-url", "http://127.0.0.1:11434/v1"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let shown = String::from_utf8(output.stdout).unwrap();
    for line in [
        "addr = 0.0.0.0:9000  # config file",
        "rate_limit = 30  # env FOOTNOTE_RATE_LIMIT",
        "max_sentences = 2  # flag",
        "admin_token = ********  # config file",
        "database_url = postgres://fn:********@db/fn  # env FOOTNOTE_DATABASE_URL",
        "max_sources = 3  # default",
        "llm_url = http://127.0.0.1:11434/v1  # flag",
        "llm_api_key = ********  # env FOOTNOTE_LLM_API_KEY",
    ] {
        assert!(shown.contains(line), "{line:?} missing from:\n{shown}");
    }
    assert!(!shown.contains("s3cret") && !shown.contains(":pw@") && !shown.contains("sk-llm-secret"), "{shown}");

    std::fs::write(&file, "rate_limits = 5\n").unwrap();
    let error = failure(footnote(dir.path()).env("FOOTNOTE_CONFIG", &file).arg("config"));
    assert!(error.contains("rate_limits"), "{error}");
}

// Documents in other formats: PDF, Word, OpenDocument and web pages. The files
// are in tests/documents (made by its make.py); the web pages are served by a
// small HTTP server on loopback.

fn documents() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/documents")
}

/// The passages of one document, ingested alone into a fresh index.
fn ingested_alone(name: &str) -> (TempDir, Vec<Value>) {
    let data = TempDir::new().unwrap();
    let report = ingest(data.path(), &documents().join(name));
    assert_eq!(report["added"], 1, "{report}");
    let found = passages(data.path(), Some(name));
    assert!(!found.is_empty());
    (data, found)
}

fn squeezed(passages: &[Value]) -> String {
    texts(passages).join(" ").split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn a_long_pdf_loses_its_running_headers_and_cites_the_page_of_a_late_fact() {
    let (data, found) = ingested_alone("long-report.pdf");
    let pages: Vec<u64> = found.iter().map(|p| p["page"].as_u64().expect("every PDF passage has a page")).collect();
    assert!(pages.windows(2).all(|w| w[0] <= w[1]), "pages out of order: {pages:?}");
    let last = *pages.last().unwrap();
    assert!(last >= 15, "{pages:?}");
    let all = texts(&found).join("\n");
    // Chromium printed a date and the title at the top of every page, the file
    // URL and "n/N" at the bottom.
    for furniture in ["AM Annual Harbour Report", "file://", "page.html", &format!("/{last}")] {
        assert!(!all.contains(furniture), "{furniture:?} survived into a passage");
    }
    assert!(all.contains("Chapter 14 of the harbour report covers the works of year 1914."));
    let docs = json_output(footnote(data.path()).args(["docs", "--json"]));
    assert_eq!(docs["documents"][0]["title"], "Annual Harbour Report");

    let answer = ask(data.path(), "When was the Kestrel Point lighthouse first lit?", &[]);
    let citation = &answer["citations"][0];
    assert!(citation["text"].as_str().unwrap().contains("9 November 1927"), "{answer:#}");
    let lighthouse = found.iter().find(|p| p["text"].as_str().unwrap().contains("Kestrel Point")).unwrap();
    assert_eq!(citation["page"], lighthouse["page"], "{answer:#}");
    assert_eq!(citation["page"].as_u64(), Some(last), "{answer:#}");
    let output = footnote(data.path()).args(["ask", "When was the Kestrel Point lighthouse first lit?"]).output().unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains(&format!("p. {last}, ")));
}

#[test]
fn a_latex_pdf_from_a_package_is_read_page_by_page() {
    let (_data, found) = ingested_alone("pypdf-pdflatex-outline.pdf");
    // Its pages repeat one blind text, kept once: what is left starts on pages 1 and 2.
    let pages: Vec<u64> = found.iter().map(|p| p["page"].as_u64().expect("a page")).collect();
    assert!(pages.windows(2).all(|w| w[0] <= w[1]) && pages.iter().all(|p| (1..=4).contains(p)), "{pages:?}");
    assert_eq!((pages.first(), pages.contains(&2)), (Some(&1), true), "{pages:?}");
    let text = squeezed(&found);
    // Read in order: pdf_oxide's own text call moved the end of this first line after the second.
    let opening = "Hello, here is some text without a meaning. This text should show what a printed text will look like at this place.";
    assert!(text.contains(opening), "{text}");
    assert!(!text.contains("you will get no This text should show"), "{text}");
}

#[test]
fn two_column_pdfs_read_column_by_column() {
    // One printed by Chromium, one that draws each line across both columns.
    for name in ["two-columns.pdf", "two-columns-interleaved.pdf"] {
        let (_data, found) = ingested_alone(name);
        let text = squeezed(&found);
        for sentence in [
            "The Larkspur Valley survey began in the spring of 1911, when three surveyors walked the length of the river with chains and a theodolite.",
            "Their field books, kept in the county archive, record a flood in the second week of June that carried away the footbridge below the church.",
            "Its single track climbed the northern pass through eleven tunnels, the longest of which was dug by hand over a winter the valley still calls the hardest on record.",
        ] {
            assert!(text.contains(sentence), "{name}: {sentence:?} not read whole from\n{text}");
        }
        let survey = text.find("The Larkspur Valley survey").unwrap();
        let railway = text.find("The Larkspur railway opened").unwrap();
        assert!(survey < railway, "{name}: the right column came first");
        assert!(found.iter().all(|p| p["page"] == 1));
    }
}

#[test]
fn word_and_opendocument_files_keep_headings_tables_and_titles() {
    let (data, found) = ingested_alone("ferries.docx");
    let docs = json_output(footnote(data.path()).args(["docs", "--json"]));
    assert_eq!(docs["documents"][0]["title"], "Island Ferries Handbook");
    let text = squeezed(&found);
    assert!(text.contains("Ferry: Osprey; Crossing time: 40 minutes; Fare: 12 crowns."), "{text}");
    assert!(text.contains("Ferry: Heron; Crossing time: 55 minutes; Fare: 9 crowns."), "{text}");
    let section_of = |passages: &[Value], words: &str| {
        passages.iter().find(|p| p["text"].as_str().unwrap().contains(words)).map(|p| p["section"].clone()).unwrap()
    };
    assert_eq!(section_of(&found, "Every passenger is counted"), "Island Ferries › Safety");
    assert!(found.iter().all(|p| p["page"].is_null()));
    let answer = ask(data.path(), "What is the crossing time of the Heron ferry?", &[]);
    assert!(answer["citations"][0]["text"].as_str().unwrap().contains("55 minutes"), "{answer:#}");

    let (data, found) = ingested_alone("orchard.odt");
    let docs = json_output(footnote(data.path()).args(["docs", "--json"]));
    assert_eq!(docs["documents"][0]["title"], "Orchard Keeping Notes");
    let text = squeezed(&found);
    assert!(text.contains("Variety: Bramley; Picked: October."), "{text}");
    assert!(text.contains("pruned in February"), "{text}");
    assert!(section_of(&found, "Variety: Bramley").as_str().unwrap().ends_with("Harvest"));
}

#[test]
fn unreadable_pdfs_are_named_with_their_reason_and_the_batch_goes_on() {
    let folder = TempDir::new().unwrap();
    for name in ["scanned.pdf", "encrypted.pdf", "pypdf-libreoffice-writer-password.pdf", "two-columns.pdf"] {
        std::fs::copy(documents().join(name), folder.path().join(name)).unwrap();
    }
    let whole = std::fs::read(documents().join("long-report.pdf")).unwrap();
    std::fs::write(folder.path().join("truncated.pdf"), &whole[..whole.len() / 2]).unwrap();

    let reasons = [
        ("scanned.pdf", "no text layer"),
        ("encrypted.pdf", "encrypted"),
        ("pypdf-libreoffice-writer-password.pdf", "encrypted"),
        ("truncated.pdf", "cut short"),
    ];
    let data = TempDir::new().unwrap();
    for (name, reason) in reasons {
        let error = failure(footnote(data.path()).arg("ingest").arg(folder.path().join(name)));
        assert!(error.contains(name) && error.contains(reason), "{error}");
        assert_eq!(error.trim().lines().count(), 1, "{error}");
    }
    let report = ingest(data.path(), folder.path());
    assert_eq!(report["added"], 1, "{report}");
    let skipped = report["skipped"].as_array().unwrap();
    for (name, reason) in reasons {
        assert!(
            skipped.iter().any(|s| s[0].as_str().unwrap().ends_with(name) && s[1].as_str().unwrap().contains(reason)),
            "{name} not listed with {reason:?}: {report}"
        );
    }
}

/// A small site on loopback: what it serves, and every request it was sent
/// (path and when).
struct Site {
    url: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<(String, std::time::Instant)>>>,
}

impl Site {
    fn serve(pages: &'static [(&'static str, &'static str, &'static str)]) -> Site {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap() == 0 || header.trim().is_empty() {
                        break;
                    }
                }
                let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
                log.lock().unwrap().push((path.clone(), std::time::Instant::now()));
                let response = match pages.iter().find(|(p, _, _)| *p == path) {
                    Some((_, kind, body)) => format!("HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()),
                    None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
                };
                let _ = stream.write_all(response.as_bytes());
            }
        });
        Site { url, requests }
    }

    fn paths(&self) -> Vec<String> {
        self.requests.lock().unwrap().iter().map(|(p, _)| p.clone()).collect()
    }
}

const HTML: &str = "text/html; charset=utf-8";

#[test]
fn a_crawl_stays_on_the_site_obeys_robots_txt_and_waits_between_requests() {
    static PAGES: &[(&str, &str, &str)] = &[
        ("/robots.txt", "text/plain", "User-agent: *\nDisallow: /private/\n"),
        ("/", HTML, "<html><head><title>Marsh Wardens</title></head><body><main><p>The marsh wardens count the geese every winter.</p>\
            <a href='/birds.html'>Birds</a> <a href='tides.html#today'>Tides</a> <a href='/private/pay.html'>Pay</a>\
            <a href='http://example.invalid/elsewhere'>Elsewhere</a> <a href='/logo.png'>Logo</a></main></body></html>"),
        ("/birds.html", HTML, "<html><head><title>Birds</title><link rel='canonical' href='/birds'></head><body><main>\
            <p>Brent geese arrive on the marsh in October and leave in March.</p><a href='/deep/one.html'>More</a></main></body></html>"),
        ("/tides.html", HTML, "<html><head><title>Tides</title></head><body><main><p>Spring tides flood the lower marsh twice a month.</p>\
            <a href='/'>Home</a></main></body></html>"),
        ("/deep/one.html", HTML, "<html><head><title>Deep</title></head><body><main><p>The heron colony nests in the alders.</p>\
            <a href='/deep/two.html'>Deeper</a></main></body></html>"),
        ("/deep/two.html", HTML, "<html><body><main><p>Beyond the crawl depth: the otters of the lower marsh.</p></main></body></html>"),
        ("/private/pay.html", HTML, "<html><body><p>Wardens' pay scales, not for robots.</p></body></html>"),
    ];
    let site = Site::serve(PAGES);
    let data = TempDir::new().unwrap();
    let crawl = |data: &Path| {
        json_output(footnote(data).args(["ingest", "--json", "--crawl", "--depth", "2", "--crawl-delay", "0.2"]).arg(format!("{}/", site.url)))
    };
    let report = crawl(data.path());
    assert_eq!(report["added"], 4, "{report}");
    let docs = json_output(footnote(data.path()).args(["docs", "--json"]));
    let mut ids: Vec<String> = docs["documents"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_string()).collect();
    ids.sort();
    let expected: Vec<String> = ["/", "/birds", "/deep/one.html", "/tides.html"].iter().map(|p| format!("{}{p}", site.url)).collect();
    assert_eq!(ids, expected, "the canonical URL names a page");
    assert!(docs["documents"].as_array().unwrap().iter().all(|d| d["source"] == d["id"]));

    let paths = site.paths();
    assert_eq!(paths[0], "/robots.txt", "robots.txt is read first");
    for never in ["/private/pay.html", "/deep/two.html", "/logo.png"] {
        assert!(!paths.iter().any(|p| p == never), "{never} was fetched: {paths:?}");
    }
    let times: Vec<std::time::Instant> = site.requests.lock().unwrap().iter().skip(1).map(|(_, t)| *t).collect();
    assert!(times.windows(2).all(|w| w[1] - w[0] >= std::time::Duration::from_millis(190)), "requests did not wait");

    // Crawling again changes nothing.
    let again = crawl(data.path());
    assert_eq!((again["added"].as_u64(), again["unchanged"].as_u64()), (Some(0), Some(4)), "{again}");

    // One page by its URL, without --crawl, is that page alone.
    let single = TempDir::new().unwrap();
    let report = json_output(footnote(single.path()).args(["ingest", "--json"]).arg(format!("{}/tides.html", site.url)));
    assert_eq!(report["added"], 1, "{report}");
    let answer = ask(single.path(), "How often do spring tides flood the lower marsh?", &[]);
    assert_eq!(answer["citations"][0]["source"], format!("{}/tides.html", site.url), "{answer:#}");
    // A page that is not there fails the command with one line naming it.
    let missing = failure(footnote(single.path()).arg("ingest").arg(format!("{}/nowhere.html", site.url)));
    assert!(missing.contains("nowhere.html") && missing.contains("404"), "{missing}");
    assert_eq!(missing.trim().lines().count(), 1, "{missing}");
}
