// The chat page with JavaScript: answers stream in as server-sent events from
// POST /api/v1/ask; once complete, the message is replaced by the server's own
// rendering (GET /messages/{id}), so there is one way of showing an answer.
// Without JavaScript the page's forms post to the server and still work.
"use strict";

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
input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});

form.addEventListener("submit", (event) => {
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
  if (conversationField.value) body.conversation_id = conversationField.value;
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
