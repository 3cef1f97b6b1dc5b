// The lab server's page: fetches a question, shows it, sends the answer (retried under one id).
"use strict";

const token = decodeURIComponent(location.hash.slice(1));
const $ = (id) => document.getElementById(id);
let question = null;
let busy = false;
let objectUrls = [];

function setState(state) {
  document.body.dataset.state = state;
}

function showMessage(title, text, state) {
  $("question").hidden = true;
  $("message").hidden = false;
  $("message-title").textContent = title;
  $("message-text").textContent = text;
  setState(state);
}

function status(text) {
  $("status").textContent = text;
}

function newAnswerId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// One request; network failures and 5xx/429 are retried (the same body, so the same answer id)
// until the server answers, with the page saying that it is waiting.
async function api(method, path, body) {
  for (let attempt = 0; ; attempt++) {
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: Object.assign({ Authorization: "Bearer " + token },
                               body ? { "Content-Type": "application/json" } : {}),
        body: body ? JSON.stringify(body) : undefined,
        cache: "no-store",
      });
    } catch (e) {
      response = null;
    }
    if (response && response.status < 500 && response.status !== 429) {
      if (attempt > 0) status("");
      return response;
    }
    if (attempt >= 2) {
      showMessage("The server is gone",
                  "Your answers so far are saved. This page keeps trying to reach the server " +
                  "and carries on by itself when it is back.", "gone");
    }
    status("Waiting for the server…");
    await sleep(Math.min(500 * 2 ** attempt, 5000));
  }
}

function unauthorized() {
  showMessage("This link does not work",
              "The server does not know this token, or it was revoked. Ask for a new link.",
              "unauthorized");
}

function showProgress(q) {
  const parts = [q.answers + " answered", q.remaining + " to go"];
  if (q.seconds_per_answer != null) parts.push(q.seconds_per_answer.toFixed(1) + " s per answer");
  $("progress").textContent = parts.join(" · ");
}

async function loadImage(path) {
  const response = await api("GET", path);
  if (!response.ok) throw new Error("image " + response.status);
  const url = URL.createObjectURL(await response.blob());
  objectUrls.push(url);
  const img = document.createElement("img");
  img.src = url;
  img.alt = "";
  return img;
}

function choiceButton(label, key, onPress) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "choice";
  const kbd = document.createElement("kbd");
  kbd.textContent = key;
  button.append(kbd, document.createTextNode(" " + label));
  button.addEventListener("click", onPress);
  return button;
}

async function render(q) {
  objectUrls.forEach((url) => URL.revokeObjectURL(url));
  objectUrls = [];
  const images = $("images");
  const choices = $("choices");
  const tiles = q.kind === "preference"
    ? [await loadImage(q.left.image), await loadImage(q.right.image)]
    : [await loadImage(q.image)];
  images.replaceChildren(...tiles);
  images.className = q.kind === "preference" ? "pair" : "single";
  choices.replaceChildren();
  if (q.kind === "preference") {
    $("prompt").textContent = "Which one is " + q.criterion + "?";
    choices.append(choiceButton("Left", "←", () => answer({ preferred: "left" })),
                   choiceButton("Equal", "=", () => answer({ preferred: "equal" })),
                   choiceButton("Right", "→", () => answer({ preferred: "right" })));
    $("keys").textContent = "← left · → right · = equal";
  } else {
    $("prompt").textContent = q.kind === "complementary"
      ? "Which of these is this image NOT?" : "Which class is this image?";
    if (q.asked_before > 0)
      $("prompt").textContent += " Asked again: you have ruled out " + q.asked_before +
        (q.asked_before === 1 ? " label" : " labels") + " for this image before.";
    q.candidates.forEach((c, i) => {
      const key = i < 9 ? String(i + 1) : i === 9 ? "0" : "";
      choices.append(choiceButton(c.name, key, () => answer({ class: c.id })));
    });
    $("keys").textContent = "Keys 1–" + Math.min(q.candidates.length, 9) +
      (q.candidates.length > 9 ? ", 0" : "") + " answer";
  }
  $("flag").setAttribute("aria-pressed", q.flagged ? "true" : "false");
  $("message").hidden = true;
  $("question").hidden = false;
  document.body.dataset.question = String(q.id);
  setState("question");
}

async function next() {
  const response = await api("GET", "/api/question");
  if (response.status === 401) return unauthorized();
  if (response.status === 204) {
    question = null;
    const me = await api("GET", "/api/me");
    if (me.ok) showProgress(await me.json());
    return showMessage("All done", "Nothing is left for you in this campaign. Thank you!",
                       "done");
  }
  if (!response.ok) {
    return showMessage("Something went wrong", "The server answered " + response.status + ".",
                       "error");
  }
  question = await response.json();
  showProgress(question);
  await render(question);
}

async function act(work) {
  if (busy) return;
  busy = true;
  try {
    await work();
  } catch (e) {
    status("Error: " + e.message);
  } finally {
    busy = false;
  }
}

function answer(choice) {
  act(async () => {
    if (!question) return;
    const body = Object.assign({ question: question.id, answer_id: newAnswerId() }, choice);
    const response = await api("POST", "/api/answer", body);
    if (response.status === 401) return unauthorized();
    // 404: the question had expired (its item may be someone else's now): on to the next.
    if (!response.ok && response.status !== 404) {
      const problem = await response.json().catch(() => ({}));
      status(problem.error || "The answer was refused (" + response.status + ").");
      return;
    }
    await next();
  });
}

function post(path, withQuestion) {
  act(async () => {
    if (withQuestion && !question) return;
    const response = await api("POST", path, withQuestion ? { question: question.id } : {});
    if (response.status === 401) return unauthorized();
    if (path === "/api/flag" && response.ok) {
      $("flag").setAttribute("aria-pressed", "true");
      status("Flagged for review");
      return;
    }
    if (!response.ok && path === "/api/undo") {
      status("Nothing to undo");
      return;
    }
    await next();
  });
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.altKey || event.metaKey) return;
  const key = event.key;
  if (key === "Backspace") {
    post("/api/undo", false);
  } else if (!question) {
    return;
  } else if (key === " ") {
    post("/api/skip", true);
  } else if (key === "f" || key === "F") {
    post("/api/flag", true);
  } else if (question.kind === "preference") {
    const choice = { ArrowLeft: "left", ArrowRight: "right", "=": "equal" }[key];
    if (!choice) return;
    answer({ preferred: choice });
  } else if (/^[0-9]$/.test(key)) {
    const index = key === "0" ? 9 : Number(key) - 1;
    if (index >= question.candidates.length) return;
    answer({ class: question.candidates[index].id });
  } else {
    return;
  }
  event.preventDefault();
});

$("skip").addEventListener("click", () => post("/api/skip", true));
$("flag").addEventListener("click", () => post("/api/flag", true));
$("undo").addEventListener("click", () => post("/api/undo", false));

// The question stays reserved while the page is open: asking for it again renews its lease.
// A person who is done asks again now and then: items others held may have come back.
setInterval(() => {
  if (!question && !busy && document.body.dataset.state === "done") {
    act(next);
  } else if (question && !busy && document.visibilityState === "visible") {
    act(async () => {
      const response = await api("GET", "/api/question");
      if (response.status === 200) {
        const q = await response.json();
        if (q.id !== question.id) {
          question = q;
          await render(q);
        }
      }
    });
  }
}, 60000);

if (!token) {
  showMessage("No token",
              "Open the link you were given: it ends with #TOKEN. Tokens come from 'veto invite'.",
              "unauthorized");
} else {
  act(next);
}
