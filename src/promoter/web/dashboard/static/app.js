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
