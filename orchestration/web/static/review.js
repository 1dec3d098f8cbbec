// Review the output shown: sign in with an edit token, approve, reject, or ask for it again (served with --allow-edits).
async function send(method, url, body, message) {
  const response = await fetch(url, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const payload = await response.json();
  if (!response.ok) { message.textContent = payload.detail; message.className = "form-message error"; return null; }
  return payload;
}

const signIn = document.getElementById("sign-in-form");
if (signIn) {
  signIn.addEventListener("submit", async (event) => {
    event.preventDefault();
    const done = await send("POST", "/api/session", { token: signIn.elements.token.value }, document.getElementById("sign-in-message"));
    if (done) location.reload();
  });
}

const form = document.getElementById("review-form");
if (form) {
  const message = document.getElementById("review-message");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const op = event.submitter.value, note = form.elements.note.value.trim() || null, id = form.dataset.output;
    let done;
    if (op === "approved" || op === "rejected") {
      done = await send("POST", `/api/outputs/${id}/review`, { decision: op, note }, message);
    } else {
      const variant = op === "as-variant" ? form.elements.variant.value : null;
      if (op === "as-variant" && !variant) { message.textContent = "choose a variant"; message.className = "form-message error"; return; }
      done = await send("POST", `/api/outputs/${id}/remake`, { variant, note }, message);
      const what = done && (done.variant ? `as ${done.variant}` : "with another seed");
      if (done) { message.textContent = `asked for it again ${what}: Dagster's remakes_sensor queues it`; message.className = "form-message"; return; }
    }
    if (done) location.reload();
  });
}
