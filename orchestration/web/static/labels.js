// Add or remove a tag or collection on the output shown (the page is served with --allow-edits).
const form = document.getElementById("label-form");
const message = document.getElementById("label-message");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const op = event.submitter.value;
  const label = form.elements.label.value.trim();
  const body = { kind: form.elements.kind.value, variant: form.dataset.variant, add: [], remove: [] };
  body[op].push(label);
  const response = await fetch(`/api/sources/${form.dataset.source}/labels`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  });
  const payload = await response.json();
  if (!response.ok) { message.textContent = payload.detail; message.className = "form-message error"; return; }
  location.reload();
});
