// Settings › Segment: refreshes the table of received messages every 5 seconds while the
// page is visible. Without this file the page shows the table and a Refresh link.
(() => {
  const box = document.querySelector("[data-refresh]");
  if (!box) return;
  const url = box.getAttribute("data-refresh");
  let busy = false;
  let stopped = false;
  async function refresh() {
    if (busy || stopped || document.visibilityState !== "visible") return;
    busy = true;
    try {
      const response = await fetch(url, {
        credentials: "same-origin",
        cache: "no-store",
        redirect: "manual",
        headers: { Accept: "text/html" },
      });
      if (!response.ok) {
        // Signed out (a redirect to the sign-in page) or refused: stop; the link still works.
        if (response.type === "opaqueredirect" || response.status === 401 || response.status === 403) stopped = true;
        return;
      }
      box.innerHTML = await response.text();
    } catch (error) {
      // Offline for a moment: try again on the next tick.
    } finally {
      busy = false;
    }
  }
  setInterval(refresh, 5000);
  document.addEventListener("visibilitychange", refresh);
})();
