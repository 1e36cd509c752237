// Progressive enhancement only: every page works without this file.
// Forms marked data-autosubmit submit themselves when one of their fields changes.
document.addEventListener("change", (event) => {
  const field = event.target;
  if (!(field instanceof HTMLElement)) return;
  const form = field.closest("form[data-autosubmit]");
  if (form && !field.hasAttribute("data-no-autosubmit")) form.requestSubmit();
});
// Buttons marked data-confirm ask before submitting.
document.addEventListener("click", (event) => {
  const button = event.target instanceof HTMLElement ? event.target.closest("[data-confirm]") : null;
  if (button && !window.confirm(button.getAttribute("data-confirm"))) event.preventDefault();
});
// Copy buttons copy the text of the element they name.
document.addEventListener("click", (event) => {
  const button = event.target instanceof HTMLElement ? event.target.closest("[data-copy]") : null;
  if (!button) return;
  const source = document.getElementById(button.getAttribute("data-copy"));
  if (source && navigator.clipboard) navigator.clipboard.writeText(source.textContent.trim());
});
// A colour picker fills the text field it is for (data-color-for), and follows it.
document.addEventListener("input", (event) => {
  const field = event.target;
  if (!(field instanceof HTMLInputElement)) return;
  const target = field.getAttribute("data-color-for");
  if (target) {
    const text = document.getElementById(target);
    if (text) text.value = field.value;
    return;
  }
  // Typed: the text is what is saved (emptied: the default colour), the picker shows it.
  const picker = field.id && document.querySelector(`[data-color-for="${field.id}"]`);
  if (!picker) return;
  if (/^#[0-9a-fA-F]{6}$/.test(field.value)) picker.value = field.value.toLowerCase();
  const shown = picker.form && picker.form.querySelector(`[data-color-shown-for="${field.id}"]`);
  if (shown) shown.value = picker.value;
});
// Wide screens show the folded filter panel open (app.css does it where it can).
if (window.matchMedia("(min-width: 641px)").matches && !CSS.supports("selector(::details-content)")) {
  for (const panel of document.querySelectorAll("details.filter-panel")) panel.open = true;
}
// The menu scrolls sideways on a phone: the current page's link is brought into view.
const menu = document.querySelector("header.top nav");
const current = menu && menu.querySelector("[aria-current]");
if (current && menu.scrollWidth > menu.clientWidth) {
  menu.scrollLeft = current.offsetLeft + current.offsetWidth / 2 - menu.clientWidth / 2;
}
// A box that scrolls (a wide table on a phone, a long email) can be scrolled from the keyboard.
const scrolling = () => {
  for (const box of document.querySelectorAll("main .table-wrap, main .card, main pre")) {
    const scrolls = box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1;
    if (scrolls && !box.hasAttribute("tabindex")) box.tabIndex = 0;
  }
};
scrolling();
window.addEventListener("resize", scrolling);
// An Add button (data-add-line) adds its field's value as one more line of the text area
// it names (data-add-line-to), then empties the field. Without it, the form adds it on save.
document.addEventListener("click", (event) => {
  const button = event.target instanceof HTMLElement ? event.target.closest("[data-add-line]") : null;
  if (!button) return;
  const field = document.getElementById(button.getAttribute("data-add-line"));
  const list = document.getElementById(button.getAttribute("data-add-line-to"));
  if (!field || !list) return;
  const added = field.value.trim();
  const lines = list.value.split("\n").map((line) => line.trim()).filter((line) => line);
  if (added && !lines.includes(added)) list.value = [...lines, added].join("\n");
  field.value = "";
  field.focus();
});
// The filter builder's value field suggests, as you type, the values of the row's attribute
// that contain what you typed, most frequent first (without this script the page lists some).
// For "is any of" / "is none of" it completes the value after the last comma.
let suggesting = null;
let suggestLater = 0;
function suggestValues(field) {
  const row = field.closest(".condition");
  const name = row && row.querySelector("select[name=a_name]");
  if (!name || !name.value || !field.list) return;
  const op = row.querySelector("select[name=a_op]");
  const several = op && (op.value === "in" || op.value === "not_in");
  const cut = several ? field.value.lastIndexOf(",") + 1 : 0;
  const head = field.value.slice(0, cut);
  const params = new URLSearchParams({ name: name.value, q: field.value.slice(cut).trim() });
  if (suggesting) suggesting.abort();
  suggesting = new AbortController();
  fetch(`/filter/values?${params}`, { signal: suggesting.signal, headers: { Accept: "application/json" } })
    .then((response) => (response.ok ? response.json() : null))
    .then((body) => {
      if (!body) return;
      field.list.replaceChildren(...body.values.map((value) => {
        const option = document.createElement("option");
        option.value = head ? `${head} ${value}` : value;
        return option;
      }));
    })
    .catch(() => {}); // replaced by a newer question, or offline: the list stays as it was
}
function valueField(event) {
  const field = event.target;
  return field instanceof HTMLInputElement && field.name === "a_value" ? field : null;
}
document.addEventListener("focusin", (event) => {
  const field = valueField(event);
  if (field) suggestValues(field);
});
document.addEventListener("input", (event) => {
  const field = valueField(event);
  if (!field) return;
  clearTimeout(suggestLater);
  suggestLater = setTimeout(() => suggestValues(field), 150);
});
