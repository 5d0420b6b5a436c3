//! The scripted chat-completions server as a process, for tests that run
//! footnote as one (the browser test): `footnote-llm-standin PORT SCRIPT.json`.

use footnote_llm_standin::{Script, serve_script};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [port, script] = args.as_slice() else {
        eprintln!("usage: footnote-llm-standin PORT SCRIPT.json");
        std::process::exit(2);
    };
    let script: Script = serde_json::from_str(&std::fs::read_to_string(script).expect("the script is readable")).expect("the script is a Script in JSON");
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port.parse::<u16>().expect("a port number"))).await.expect("the port is free");
    serve_script(listener, script).await;
}
