//! The store contract: what every backend must do, checked the same way on each.
//!
//! Each test runs its body once per backend:
//! - always on Qdrant Edge (a fresh data directory);
//! - always on the server backend against a local stand-in that speaks Qdrant's
//!   gRPC protocol with the Qdrant engine behind it (`crates/qdrant-standin`);
//! - on a real Qdrant server when `QDRANT_TEST_URL` names one (a fresh collection
//!   per run, deleted afterwards). No Qdrant server can run on the machine these
//!   were written on; the output says so when those runs are skipped.
//!
//! One more test checks that the backends rank the same data identically.
//!
//! The real embedding model is used (`FOOTNOTE_MODEL_DIR`), so the rankings are
//! those of real questions over real passages.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use footnote_qdrant_standin as qdrant_standin;
use footnote_index::{
    DocumentMeta, DocumentState, Fusion, HybridQuery, Index, Location, ModelSource, NewPassage, QdrantSettings,
    Ranking,
};

/// A backend the contract runs on, and a fresh, empty index on it.
struct Backend {
    name: &'static str,
    location: Location,
    _dir: Option<tempfile::TempDir>,
}

fn model() -> ModelSource {
    let path = std::env::var_os("FOOTNOTE_MODEL_DIR")
        .map(PathBuf::from)
        .expect("FOOTNOTE_MODEL_DIR names the model directory (scripts/test.sh sets it)");
    ModelSource::Directory { path, onnx_file: "model.onnx".into() }
}

/// Every backend available here, each with a fresh index.
fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut backends =
        vec![Backend { name: "qdrant-edge", location: Location::Embedded(dir.path().join("data")), _dir: Some(dir) }];
    backends.push(Backend { name: "qdrant-grpc-standin", location: Location::Server(standin_settings()), _dir: None });
    if let Some(settings) = server_settings() {
        backends.push(Backend { name: "qdrant-server", location: Location::Server(settings), _dir: None });
    }
    backends
}

/// A fresh collection on the server named by `QDRANT_TEST_URL`, or `None`, said aloud.
fn server_settings() -> Option<QdrantSettings> {
    static WARNED: OnceLock<()> = OnceLock::new();
    let Some(url) = std::env::var("QDRANT_TEST_URL").ok().filter(|url| !url.is_empty()) else {
        WARNED.get_or_init(|| {
            eprintln!("QDRANT_TEST_URL is not set: runs of the store contract on a real Qdrant server are SKIPPED (Qdrant Edge and the gRPC stand-in ran)")
        });
        return None;
    };
    let mut settings = QdrantSettings::new(url);
    settings.api_key = std::env::var("QDRANT_TEST_API_KEY").ok();
    settings.collection = unique_collection();
    Some(settings)
}

/// The stand-in of this test process, started on first use.
fn standin() -> &'static qdrant_standin::Running {
    static STANDIN: OnceLock<qdrant_standin::Running> = OnceLock::new();
    STANDIN.get_or_init(qdrant_standin::start)
}

fn standin_url() -> String {
    standin().url.clone()
}

fn standin_settings() -> QdrantSettings {
    let mut settings = QdrantSettings::new(standin_url());
    settings.api_key = Some(qdrant_standin::API_KEY.into());
    settings.collection = unique_collection();
    settings
}

fn unique_collection() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("footnote_test_{}_{nanos}", std::process::id())
}

fn document(id: &str, hash: &str) -> DocumentMeta {
    DocumentMeta {
        id: id.into(),
        title: format!("Title of {id}"),
        source: Some(format!("https://example.org/{id}")),
        date: Some("2026-03-01".into()),
        content_hash: hash.into(),
    }
}

const ELECTIONS: [&str; 3] = [
    "President Tokayev called an early presidential election to renew his mandate after the January unrest.",
    "The snap vote was held in November, a year and a half before the end of the term.",
    "Observers said the early election let the president consolidate power before an economic downturn.",
];
const RIVERS: [&str; 2] = [
    "The Irtysh river flows north from China through Kazakhstan into Russia.",
    "Lake Balkhash is half fresh water and half salt water.",
];

fn passages(texts: &[&str]) -> Vec<NewPassage> {
    let mut start = 0;
    texts
        .iter()
        .enumerate()
        .map(|(position, text)| {
            let span = (start, start + text.chars().count());
            start = span.1 + 2;
            NewPassage { text: text.to_string(), position, span, page: None, section: None }
        })
        .collect()
}

fn write(index: &Index, document: &DocumentMeta, texts: &[&str]) {
    let dense = index.embedder().embed_passages(texts).expect("embedding");
    index.write_document(document, passages(texts), dense).expect("write");
}

fn query(index: &Index, question: &str, ranking: Ranking, documents: &[&str]) -> HybridQuery {
    HybridQuery {
        dense: index.embedder().embed_query(question).expect("embedding"),
        sparse: index.sparse().encode_query(question),
        ranking,
        prefetch_limit: 20,
        limit: 5,
        documents: documents.iter().map(|d| d.to_string()).collect(),
    }
}

const RRF: Ranking = Ranking::Fused(Fusion::Rrf { k: 60, dense_weight: 1.0, sparse_weight: 1.0 });

/// Runs `check` on a fresh index of every backend, naming the backend on failure.
fn on_every_backend(check: impl Fn(&Backend, Index)) {
    let model = model();
    for backend in backends() {
        eprintln!("store contract on {}", backend.name);
        let index = Index::open(&backend.location, &model)
            .unwrap_or_else(|e| panic!("{}: opening a fresh index: {e}", backend.name));
        check(&backend, index);
        drop_collection(&backend);
    }
}

/// Deletes a server test collection; an embedded one goes with its directory.
fn drop_collection(backend: &Backend) {
    if let Location::Server(settings) = &backend.location {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            let mut config = qdrant_client::Qdrant::from_url(&settings.url);
            config.api_key = settings.api_key.clone();
            if let Ok(client) = config.build() {
                let _ = client.delete_collection(settings.collection.clone()).await;
            }
        });
    }
}

#[test]
fn written_documents_are_counted_listed_and_read_back_in_order() {
    on_every_backend(|backend, index| {
        let name = backend.name;
        let elections = document("elections.md", "h1");
        write(&index, &elections, &ELECTIONS);
        write(&index, &document("rivers.md", "r1"), &RIVERS);

        let store = index.store();
        assert_eq!(store.count("elections.md", None).unwrap(), 3, "{name}");
        assert_eq!(store.count("elections.md", Some("h1")).unwrap(), 3, "{name}");
        assert_eq!(store.count("elections.md", Some("other")).unwrap(), 0, "{name}");
        assert_eq!(index.document_state(&elections, 3).unwrap(), DocumentState::Unchanged, "{name}");
        assert_eq!(index.document_state(&document("elections.md", "h2"), 3).unwrap(), DocumentState::Changed, "{name}");

        let documents = store.documents().unwrap();
        let ids: Vec<_> = documents.iter().map(|d| (d.id.as_str(), d.passages, d.content_hash.as_str())).collect();
        assert_eq!(ids, [("elections.md", 3, "h1"), ("rivers.md", 2, "r1")], "{name}");
        assert_eq!(documents[0].title, "Title of elections.md", "{name}");
        assert_eq!(documents[0].source.as_deref(), Some("https://example.org/elections.md"), "{name}");
        assert_eq!(documents[0].date.as_deref(), Some("2026-03-01"), "{name}");

        let read = store.passages(Some("elections.md")).unwrap();
        let texts: Vec<_> = read.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ELECTIONS, "{name}: passages come back in document order");
        assert_eq!((read[1].position, read[1].start, read[1].end), (1, 104, 104 + ELECTIONS[1].chars().count()), "{name}");
        assert_eq!(store.passages(None).unwrap().len(), 5, "{name}");
        assert_eq!(index.totals().unwrap(), footnote_index::Totals { passages: 5, documents: 2 }, "{name}");
        assert_eq!(index.health().unwrap(), 2, "{name}: readiness counts documents");

        // Building the search structures changes nothing a reader sees.
        index.optimize().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(store.documents().unwrap(), documents, "{name}");
        let hits = store.query(&query(&index, "Which river flows from China into Russia?", RRF, &[])).unwrap();
        assert_eq!(hits[0].passage.doc_id, "rivers.md", "{name}");
    });
}

#[test]
fn a_new_version_replaces_the_old_and_delete_removes_everything() {
    on_every_backend(|backend, index| {
        let name = backend.name;
        write(&index, &document("elections.md", "h1"), &ELECTIONS);
        write(&index, &document("elections.md", "h2"), &ELECTIONS[..2]);
        let store = index.store();
        assert_eq!(store.count("elections.md", None).unwrap(), 2, "{name}: only the new version is left");
        assert_eq!(store.count("elections.md", Some("h1")).unwrap(), 0, "{name}");
        let documents = store.documents().unwrap();
        assert_eq!((documents[0].passages, documents[0].content_hash.as_str()), (2, "h2"), "{name}");

        assert_eq!(index.delete_document("elections.md").unwrap(), 2, "{name}");
        assert_eq!(store.count("elections.md", None).unwrap(), 0, "{name}");
        assert!(store.documents().unwrap().is_empty(), "{name}");
        assert!(index.delete_document("elections.md").is_err(), "{name}: deleting twice names the missing document");
    });
}

#[test]
fn every_ranking_finds_the_passage_and_filters_keep_to_their_documents() {
    on_every_backend(|backend, index| {
        let name = backend.name;
        write(&index, &document("elections.md", "h1"), &ELECTIONS);
        write(&index, &document("rivers.md", "r1"), &RIVERS);
        let store = index.store();
        for ranking in [Ranking::Dense, Ranking::Sparse, RRF, Ranking::Fused(Fusion::Dbsf)] {
            let hits = store.query(&query(&index, "Which river flows from China into Russia?", ranking, &[])).unwrap();
            assert_eq!(hits[0].passage.text, RIVERS[0], "{name} {ranking:?}");
            assert!(hits.windows(2).all(|w| w[0].score >= w[1].score), "{name} {ranking:?}: best first");
            assert_eq!(hits[0].passage.title, "Title of rivers.md", "{name}: hits carry their document");

            let filtered =
                store.query(&query(&index, "Which river flows from China into Russia?", ranking, &["elections.md"])).unwrap();
            // BM25 finds nothing when no word is shared; every other ranking finds
            // the nearest passages of the document.
            assert_eq!(filtered.is_empty(), ranking == Ranking::Sparse, "{name} {ranking:?}");
            assert!(filtered.iter().all(|h| h.passage.doc_id == "elections.md"), "{name} {ranking:?}: the filter holds");
        }
        let hits = store.query(&query(&index, "why did Tokayev call early elections?", RRF, &[])).unwrap();
        assert_eq!(hits[0].passage.doc_id, "elections.md", "{name}");
        assert_eq!(hits.len(), 5, "{name}: the limit is honoured");
    });
}

#[test]
fn an_interrupted_version_is_reported_only_when_nothing_better_exists() {
    on_every_backend(|backend, index| {
        let name = backend.name;
        write(&index, &document("elections.md", "h1"), &ELECTIONS);
        // A second version whose write stopped after one passage: upserted, but the
        // old version not yet deleted, as a crash between the two steps leaves it.
        let dense = index.embedder().embed_passages(&ELECTIONS[..1]).unwrap();
        let partial = footnote_index::StoredPoint {
            id: footnote_index::point_id("elections.md", "h2", 0),
            document: document("elections.md", "h2"),
            document_passages: 3,
            passage: passages(&ELECTIONS[..1]).remove(0),
            added: None,
            dense: dense[0].clone(),
            sparse: index.sparse().encode_passage(ELECTIONS[0]),
        };
        index.store().upsert(vec![partial]).unwrap();
        let documents = index.store().documents().unwrap();
        assert_eq!(documents.len(), 1, "{name}");
        assert_eq!((documents[0].content_hash.as_str(), documents[0].passages), ("h1", 3), "{name}: the complete version");
        assert_eq!(index.document_state(&document("elections.md", "h1"), 3).unwrap(), DocumentState::Changed, "{name}");
    });
}

#[test]
fn an_index_reopens_with_its_manifest_and_refuses_another_model_or_layout() {
    on_every_backend(|backend, index| {
        let name = backend.name;
        write(&index, &document("rivers.md", "r1"), &RIVERS);
        let manifest = index.manifest().clone();
        drop(index);

        let reopened = Index::open_existing(&backend.location).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(reopened.manifest(), &manifest, "{name}");
        assert_eq!(reopened.store().count("rivers.md", None).unwrap(), 2, "{name}: what was written is still there");
        drop(reopened);

        // The same model as int8 is another model: its vectors must not mix in.
        let ModelSource::Directory { path, .. } = model() else { unreachable!() };
        let other = ModelSource::Directory { path, onnx_file: "model-int8.onnx".into() };
        let error = Index::open(&backend.location, &other).expect_err("another model is refused").to_string();
        assert!(error.contains("was built with"), "{name}: {error}");
    });
}

#[test]
fn an_index_is_copied_to_another_backend_and_back_without_embedding() {
    let model = model();
    let backends = backends();
    for from in &backends {
        for to in &backends {
            let dir = tempfile::tempdir().unwrap();
            // A fresh target on the same kind of backend as `to`.
            let target = match &to.location {
                Location::Embedded(_) => Location::Embedded(dir.path().join("copy")),
                Location::Server(settings) => {
                    let mut settings = settings.clone();
                    settings.collection.push_str("_copy");
                    Location::Server(settings)
                }
            };
            let source = Index::open(&from.location, &model).unwrap();
            write(&source, &document("elections.md", "h1"), &ELECTIONS);
            write(&source, &document("rivers.md", "r1"), &RIVERS);
            let mut seen = Vec::new();
            let copied = source.copy_to(&target, &mut |n| seen.push(n)).unwrap();
            assert_eq!(copied, 5, "{} → {}", from.name, to.name);
            assert_eq!(seen.last(), Some(&5));
            // Running it again lands on the same points.
            assert_eq!(source.copy_to(&target, &mut |_| {}).unwrap(), 5);

            let copy = Index::open(&target, &model).unwrap();
            assert_eq!(copy.manifest(), source.manifest());
            assert_eq!(copy.store().documents().unwrap(), source.store().documents().unwrap());
            assert_eq!(copy.store().passages(None).unwrap(), source.store().passages(None).unwrap());
            for ranking in [Ranking::Dense, Ranking::Sparse, RRF] {
                let question = query(&source, "why did Tokayev call early elections?", ranking, &[]);
                let ids = |index: &Index| -> Vec<String> {
                    index.store().query(&question).unwrap().into_iter().map(|h| h.passage.id).collect()
                };
                assert_eq!(ids(&copy), ids(&source), "{} → {} {ranking:?}: the copy ranks the same", from.name, to.name);
            }
            assert!(source.copy_to(source.location(), &mut |_| {}).is_err(), "copying onto itself is refused");
            drop((source, copy));
            if let Location::Server(_) = &target {
                drop_collection(&Backend { name: "copy", location: target.clone(), _dir: None });
            }
            drop_collection(from);
        }
    }
}

#[test]
fn the_embedded_and_server_backends_rank_the_same_data_identically() {
    let backends = backends();
    assert!(backends.len() >= 2, "Qdrant Edge and the stand-in at least");
    let model = model();
    let indexes: Vec<Index> = backends.iter().map(|b| Index::open(&b.location, &model).unwrap()).collect();
    for index in &indexes {
        write(index, &document("elections.md", "h1"), &ELECTIONS);
        write(index, &document("rivers.md", "r1"), &RIVERS);
    }
    for question in ["why did Tokayev call early elections?", "Which river flows from China into Russia?", "salt water"] {
        for ranking in [Ranking::Dense, Ranking::Sparse, RRF, Ranking::Fused(Fusion::Dbsf)] {
            let rankings: Vec<Vec<String>> = indexes
                .iter()
                .map(|index| index.store().query(&query(index, question, ranking, &[])).unwrap())
                .map(|hits| hits.into_iter().map(|h| h.passage.id).collect())
                .collect();
            for (backend, ranking_here) in backends.iter().zip(&rankings).skip(1) {
                assert_eq!(&rankings[0], ranking_here, "{question:?} {ranking:?}: {} against qdrant-edge", backend.name);
            }
        }
    }
    for backend in &backends {
        drop_collection(backend);
    }
}

// What only the server backend can meet: a server that is away, a wrong key, a
// collection someone else made. Checked against the stand-in.

#[test]
fn a_server_that_does_not_answer_or_refuses_the_key_is_named_when_the_index_opens() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let error = Index::open(&Location::Server(QdrantSettings::new(format!("http://{closed}"))), &model())
        .expect_err("nothing listens there")
        .to_string();
    assert!(error.contains(&format!("the Qdrant server at http://{closed} does not answer")), "{error}");
    assert!(error.contains("FOOTNOTE_QDRANT_URL"), "the message names the setting: {error}");

    let mut wrong_key = standin_settings();
    wrong_key.api_key = Some("not-the-key".into());
    let error = Index::open(&Location::Server(wrong_key), &model()).expect_err("a wrong key is refused").to_string();
    assert!(error.contains("Unauthenticated") && error.contains("FOOTNOTE_QDRANT_API_KEY"), "{error}");
}

#[test]
fn a_collection_not_made_by_footnote_or_with_other_vectors_is_refused() {
    use qdrant_client::qdrant::{CreateCollectionBuilder, Distance, VectorParamsBuilder, VectorsConfigBuilder};
    let model = model();
    let dir = tempfile::tempdir().unwrap();
    let manifest = serde_json::to_value(Index::open(&Location::Embedded(dir.path().to_path_buf()), &model).unwrap().manifest()).unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut config = qdrant_client::Qdrant::from_url(&standin_url());
    config.api_key = Some(qdrant_standin::API_KEY.into());
    config.check_compatibility = false;
    let client = runtime.block_on(async { config.build() }).unwrap();
    let create = |name: &str, size: u64, metadata: Option<serde_json::Value>| {
        let mut vectors = VectorsConfigBuilder::default();
        vectors.add_named_vector_params("dense", VectorParamsBuilder::new(size, Distance::Cosine));
        let mut request = CreateCollectionBuilder::new(name).vectors_config(vectors);
        if let Some(metadata) = metadata {
            let metadata: std::collections::HashMap<String, serde_json::Value> =
                [(footnote_index::MANIFEST_KEY.to_string(), metadata)].into();
            request = request.metadata(metadata);
        }
        runtime.block_on(client.create_collection(request)).unwrap();
    };

    let mut foreign = standin_settings();
    create(&foreign.collection, 384, None);
    let error = Index::open(&Location::Server(foreign.clone()), &model).expect_err("not footnote's").to_string();
    assert!(error.contains("was not made by footnote") && error.contains("FOOTNOTE_QDRANT_COLLECTION"), "{error}");

    foreign.collection = unique_collection();
    create(&foreign.collection, 10, Some(manifest));
    let error = Index::open(&Location::Server(foreign), &model).expect_err("other vectors").to_string();
    assert!(error.contains("`dense` vectors have 10 dimensions, the model makes 384"), "{error}");
}

#[test]
fn requests_are_retried_while_the_server_is_briefly_away() {
    // A stand-in of its own: taking the shared one down would fail other tests
    // running beside this one in the same process.
    let standin = Arc::new(qdrant_standin::start());
    let mut settings = standin_settings();
    settings.url = standin.url.clone();
    let index = Index::open(&Location::Server(settings), &model()).unwrap();
    write(&index, &document("rivers.md", "r1"), &RIVERS);
    standin.set_down(true);
    let back = std::thread::spawn({
        let standin = standin.clone();
        move || {
            std::thread::sleep(std::time::Duration::from_millis(700));
            standin.set_down(false);
        }
    });
    let count = index.store().count("rivers.md", None);
    back.join().unwrap();
    assert_eq!(count.expect("answered once the server was back"), 2);
    assert!(index.store().health().is_ok());
}
