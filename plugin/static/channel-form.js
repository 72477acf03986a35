// The channel form: a field that only matters for one choice of another (EPay's RSA keys for RSA signing,
// its MD5 key for MD5) is shown only while that choice is made. Without this script every field shows.

const form = document.getElementById("pp-channel-form");

function refresh() {
  for (const field of form.querySelectorAll("[data-when]")) {
    const control = form.elements.namedItem(field.dataset.when);
    if (!control) continue;
    const shown = field.dataset.whenValues.split(" ").includes(control.value);
    field.hidden = !shown && !field.classList.contains("pp-invalid");  // an error is never hidden
  }
}

if (form) {
  form.addEventListener("change", refresh);
  refresh();
}
