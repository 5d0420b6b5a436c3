// The web app with JavaScript. On the chat page, answers stream in as
// server-sent events from POST /api/v1/ask; once complete, the message is
// replaced by the server's own rendering (GET /messages/{id}), so there is one
// way of showing an answer, and the side list is re-read from the page the
// server renders. In the library, uploads show their stages. Without
// JavaScript every form posts to the server and still works.
"use strict";

document.documentElement.classList.add("js");
const phone = window.matchMedia("(max-width: 48rem)");

// The side list is a drawer on a phone: closed until opened; Escape closes it.
const drawer = document.getElementById("drawer");
if (drawer && phone.matches) drawer.open = false;
drawer?.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && phone.matches && drawer.open) {
    drawer.open = false;
    drawer.querySelector(":scope > summary").focus();
  }
});

// Replaces the side list and the scope note with those of the page at `url`,
// as the server renders them.
async function refreshAround(url) {
  const response = await fetch(url);
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const id of ["conversation-list", "scope-area"]) {
    const now = document.getElementById(id);
    const then = fresh.getElementById(id);
    if (now && then) now.replaceWith(then);
  }
}

// Rename and delete in the side list, through the API.
document.addEventListener("submit", async (event) => {
  const action = event.target.closest("#conversation-list form.rename, #conversation-list form.delete");
  if (!action) return;
  event.preventDefault();
  const item = action.closest("[data-conversation-id]");
  const id = item.dataset.conversationId;
  const url = `/api/v1/conversations/${encodeURIComponent(id)}`;
  const renaming = action.classList.contains("rename");
  const response = renaming
    ? await fetch(url, {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ title: action.querySelector("input[name=title]").value }),
      })
    : await fetch(url, { method: "DELETE" });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    say(problem.detail || `The server answered ${response.status}.`, true);
    return;
  }
  if (!renaming && conversationField?.value === id) {
    window.location.assign("/");
    return;
  }
  await refreshAround(window.location.pathname + window.location.search);
  say(renaming ? "Renamed." : "Conversation deleted.");
  document.querySelector("#conversation-list a")?.focus();
});

// Copies an answer with its footnotes as plain text.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const message = button.closest("article.message");
  const answer = message.querySelector(".answer > p")?.textContent.replace(/\s+/g, " ").trim() ?? "";
  const sources = [...message.querySelectorAll(".sources > li")].map((li) => {
    const title = li.querySelector(".source-title").textContent.trim();
    const where = li.querySelector(".where").textContent.trim();
    const link = li.querySelector(".origin a")?.getAttribute("href");
    return `[${li.value}] ${title}, ${where}${link ? " — " + link : ""}`;
  });
  const text = sources.length ? `${answer}\n\nSources:\n${sources.join("\n")}\n` : `${answer}\n`;
  try {
    await navigator.clipboard.writeText(text);
    say("The answer and its sources are copied.");
  } catch {
    say("The browser did not allow copying.", true);
  }
});

const form = document.getElementById("ask");
const input = document.getElementById("question");
const send = document.getElementById("send");
const log = document.getElementById("conversation");
const status = document.getElementById("status");
const conversationField = document.getElementById("conversation-id");

function say(text, isError) {
  status.textContent = "";
  const span = document.createElement("span");
  if (isError) span.className = "error";
  span.textContent = text;
  status.appendChild(span);
}

// Enter sends; Shift+Enter is a new line.
input?.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});

form?.addEventListener("submit", (event) => {
  event.preventDefault();
  ask(input.value);
});

// Example questions ask at once.
document.addEventListener("click", (event) => {
  const example = event.target.closest("button.example");
  if (example) {
    event.preventDefault();
    ask(example.value);
  }
});

// A footnote marker opens its passage and moves focus there.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a.marker, a.source-title");
  if (!link) return;
  const target = document.getElementById(link.getAttribute("href").slice(1));
  if (!target) return;
  event.preventDefault();
  target.classList.toggle("open", link.classList.contains("source-title") ? !target.classList.contains("open") : true);
  history.replaceState(null, "", link.getAttribute("href"));
  target.focus();
});

// Thumbs up/down through the API.
document.addEventListener("submit", async (event) => {
  const feedback = event.target.closest("form.feedback");
  if (!feedback) return;
  event.preventDefault();
  const button = event.submitter;
  const messageId = feedback.querySelector("input[name=message_id]").value;
  const response = await fetch("/api/v1/feedback", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ message_id: messageId, rating: button.value }),
  });
  if (!response.ok) {
    say("Your vote could not be saved.", true);
    return;
  }
  for (const b of feedback.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === button));
  say("Thanks for the feedback.");
});

async function ask(question) {
  if (!question.trim()) {
    say("Type a question first.", true);
    input.focus();
    return;
  }
  document.getElementById("examples")?.remove();
  send.disabled = true;
  say("Looking through the documents…");
  const pending = document.createElement("article");
  pending.className = "message pending";
  pending.setAttribute("aria-busy", "true");
  const asked = document.createElement("p");
  asked.className = "question";
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = "You asked";
  asked.append(who, " " + question);
  const answer = document.createElement("div");
  answer.className = "answer";
  const text = document.createElement("p");
  answer.appendChild(text);
  pending.append(asked, answer);
  log.appendChild(pending);
  input.value = "";

  const body = { question };
  const starting = !conversationField.value;
  if (starting) {
    // A new conversation keeps the documents it is limited to.
    const chosen = [...form.querySelectorAll("input[name=documents]")].filter((i) => i.type === "hidden" || i.checked);
    if (chosen.length) body.documents = chosen.map((i) => i.value);
  } else {
    body.conversation_id = conversationField.value;
  }
  try {
    const response = await fetch("/api/v1/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      throw new Error(problem.detail || `The server answered ${response.status}.`);
    }
    let done = null;
    for await (const [name, data] of serverSentEvents(response)) {
      if (name === "text") text.append(data.text + " ");
      else if (name === "done") done = data;
      else if (name === "error") throw new Error(data.detail);
    }
    if (!done) throw new Error("The answer stopped before it was complete.");
    conversationField.value = done.conversation_id;
    history.replaceState(null, "", `/?c=${encodeURIComponent(done.conversation_id)}`);
    const fragment = await fetch(`/messages/${encodeURIComponent(done.message_id)}`);
    const template = document.createElement("template");
    template.innerHTML = (await fragment.text()).trim();
    pending.replaceWith(template.content.firstElementChild);
    if (starting) {
      form.querySelector("#scope-picker")?.remove();
      for (const hidden of form.querySelectorAll("input[name=documents]")) hidden.remove();
      await refreshAround(`/?c=${encodeURIComponent(done.conversation_id)}`);
    }
    say(done.answer.abstained ? "Answered: not in the documents." : `Answered with ${done.citations.length} source(s).`);
  } catch (error) {
    pending.remove();
    input.value = question;
    say(error.message || "Something went wrong.", true);
  } finally {
    send.disabled = false;
    input.focus();
  }
}

// Parses a text/event-stream response body into [event, data] pairs.
async function* serverSentEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield [name, JSON.parse(data.join("\n"))];
    }
  }
}

// The library: the filter narrows the table as you type; dropped or chosen
// files are uploaded one by one, each showing its progress and outcome.
const filter = document.getElementById("filter");
filter?.addEventListener("input", () => {
  const needle = filter.value.trim().toLowerCase();
  for (const row of document.querySelectorAll("#documents tbody tr")) {
    row.hidden = !row.dataset.search.includes(needle);
  }
});

const upload = document.getElementById("upload");
if (upload) {
  const zone = document.getElementById("dropzone");
  const picker = document.getElementById("files");
  document.getElementById("drop-hint").hidden = false;
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    uploadAll([...event.dataTransfer.files]);
  });
  upload.addEventListener("submit", (event) => {
    event.preventDefault();
    uploadAll([...picker.files]);
  });

  const stageNames = { reading: "Reading", cleaning: "Cleaning", embedding: "Embedding", storing: "Storing" };

  async function uploadAll(files) {
    if (!files.length) return;
    const token = upload.querySelector("input[name=csrf]").value;
    for (const file of files) await uploadOne(file, token);
    picker.value = "";
    // The table, as the server now renders it.
    const fresh = new DOMParser().parseFromString(await (await fetch("/documents")).text(), "text/html");
    for (const id of ["scope-form", "library-count"]) document.getElementById(id).replaceWith(fresh.getElementById(id));
  }

  function uploadOne(file, token) {
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = file.name;
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", `Progress of ${file.name}`);
    const stage = document.createElement("span");
    stage.className = "stage";
    stage.textContent = "Uploading";
    item.append(name, bar, stage);
    document.getElementById("uploads").appendChild(item);

    const body = new FormData();
    body.append("csrf", token);
    body.append("file", file, file.name);
    return new Promise((settled) => {
      const request = new XMLHttpRequest();
      request.open("POST", "/documents");
      request.setRequestHeader("Accept", "application/x-ndjson");
      request.upload.onprogress = (event) => {
        if (event.lengthComputable) bar.value = Math.round((50 * event.loaded) / event.total);
      };
      let seen = 0;
      const read = () => {
        const lines = request.responseText.slice(seen).split("\n");
        // The last piece may be a line still arriving.
        for (const line of lines.slice(0, -1)) {
          seen += line.length + 1;
          if (!line.trim()) continue;
          const event = JSON.parse(line);
          if (event.stage === "done") {
            stage.textContent = event.outcome.text;
            if (event.outcome.kind === "error") item.classList.add("failed");
            bar.value = 100;
            item.dataset.outcome = event.outcome.kind;
          } else {
            stage.textContent = stageNames[event.stage] ?? event.stage;
            bar.value = { reading: 60, cleaning: 70, embedding: 80, storing: 90 }[event.stage] ?? bar.value;
          }
        }
      };
      request.onprogress = read;
      request.onload = () => {
        if (request.status >= 400) {
          let detail = `The server answered ${request.status}.`;
          try {
            detail = JSON.parse(request.responseText).detail || detail;
          } catch {}
          stage.textContent = `not added: ${detail}`;
          item.classList.add("failed");
          item.dataset.outcome = "error";
        } else {
          read();
        }
        settled();
      };
      request.onerror = () => {
        stage.textContent = "not added: the connection failed";
        item.classList.add("failed");
        item.dataset.outcome = "error";
        settled();
      };
      request.send(body);
    });
  }
}
