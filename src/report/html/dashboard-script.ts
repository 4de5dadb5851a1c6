/**
 * The HTML report's only script, inlined and allowed by its hash in the page's
 * Content-Security-Policy (nothing else may run or load). It reads nothing but the page's own
 * data-* attributes and changes only `hidden`, the order of table rows and one text node, so
 * hostile strings in the data stay text: it never builds HTML.
 *
 * - Typing in the filter (every word must match, case-insensitive) narrows the fix table and
 *   the host table together: a fix shows when its own text matches (title, reason, program,
 *   namespaces, workloads, images, ECS tasks, example hosts) or a matching host has it; a host
 *   shows when its own text matches (name, instance id, verdict, causes) or it has a fix whose
 *   text matches.
 * - Clicking a column header sorts its table by that column (numbers by data-value), again to
 *   reverse.
 */
import { createHash } from "node:crypto";

export const dashboardScript = `(() => {
  "use strict";
  const input = document.getElementById("filter");
  const status = document.getElementById("filter-status");
  const fixRows = Array.from(document.querySelectorAll("#fix-table tbody tr"));
  const hostRows = Array.from(document.querySelectorAll("#host-table tbody tr"));
  const fixesOf = (row) => (row.dataset.fixes || "").split(" ").filter((id) => id !== "");
  function apply() {
    const words = input.value.toLowerCase().split(/\\s+/).filter((word) => word !== "");
    const matches = (row) => words.every((word) => (row.dataset.search || "").includes(word));
    const fixText = new Set(words.length === 0 ? [] : fixRows.filter(matches).map((row) => row.dataset.fix));
    const hostText = words.length === 0 ? [] : hostRows.filter(matches);
    const fixesOfHosts = new Set(hostText.flatMap(fixesOf));
    let fixesShown = 0;
    for (const row of fixRows) {
      const show = words.length === 0 || fixText.has(row.dataset.fix) || fixesOfHosts.has(row.dataset.fix);
      row.hidden = !show;
      if (show) fixesShown++;
    }
    const hostSet = new Set(hostText);
    let hostsShown = 0;
    for (const row of hostRows) {
      const show = words.length === 0 || hostSet.has(row) || fixesOf(row).some((id) => fixText.has(id));
      row.hidden = !show;
      if (show) hostsShown++;
    }
    status.textContent = words.length === 0 ? "" : fixesShown + " of " + fixRows.length + " fixes, " + hostsShown + " of " + hostRows.length + " hosts listed";
  }
  input.addEventListener("input", apply);
  for (const header of document.querySelectorAll("table.sortable th[data-sort]")) {
    header.addEventListener("click", () => {
      const table = header.closest("table");
      const body = table.tBodies[0];
      const column = Array.from(header.parentElement.children).indexOf(header);
      const numeric = header.dataset.sort === "number";
      const ascending = header.getAttribute("aria-sort") !== "ascending";
      for (const other of header.parentElement.children) other.removeAttribute("aria-sort");
      header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const key = (row) => {
        const cell = row.children[column];
        return numeric ? Number(cell.dataset.value) : (cell.dataset.value || cell.textContent).toLowerCase();
      };
      const rows = Array.from(body.rows).sort((a, b) => {
        const x = key(a);
        const y = key(b);
        return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
      });
      for (const row of rows) body.appendChild(row);
    });
  }
})();`;

/** The CSP source that allows exactly this script. */
export const dashboardScriptHash = `sha256-${createHash("sha256").update(dashboardScript, "utf8").digest("base64")}`;
