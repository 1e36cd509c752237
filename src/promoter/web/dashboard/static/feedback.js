// The Feedback page's selection: "Select all on this page" ticks every box of its form, and
// the bar says how many are selected. Without this file each box is ticked by hand.
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
  form.addEventListener("change", (event) => {
    if (event.target === all) boxes().forEach((box) => { box.checked = all.checked; });
    show();
  });
  show();
})();
