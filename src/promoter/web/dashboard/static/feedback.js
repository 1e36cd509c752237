// The Feedback page's selection: "Select all on this page" ticks every box of its form, the
// bar says how many are selected, and a button pressed with none says so instead of
// sending. Without this file each box is ticked by hand and the server says it.
(() => {
  const all = document.querySelector("[data-select-all]");
  if (!all) return;
  const form = all.form;
  const boxes = () => [...form.querySelectorAll(`input[type=checkbox][name="${all.dataset.selectAll}"]`)];
  const count = form.querySelector("[data-selected-count]");
  const show = () => {
    const ticked = boxes().filter((box) => box.checked).length;
    all.checked = ticked > 0 && ticked === boxes().length;
    all.indeterminate = ticked > 0 && ticked < boxes().length;
    if (count) count.textContent = ticked ? `${ticked} selected` : "";
  };
  all.closest("[hidden]")?.removeAttribute("hidden");
  form.addEventListener("submit", (event) => {
    if (boxes().some((box) => box.checked)) return;
    event.preventDefault();
    if (count) count.textContent = "Select at least one feedback first.";
  });
  form.addEventListener("change", (event) => {
    if (event.target === all) boxes().forEach((box) => { box.checked = all.checked; });
    show();
  });
  show();
})();
