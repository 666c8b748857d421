// Click a column header to sort every body of that table by the column (numbers by value, blanks last).
// Bodies sort separately so tracks and published rows never mix; section rows stay on top, the floor body stays put.
(function () {
  "use strict";
  function key(cell, numeric) {
    var raw = cell ? cell.getAttribute("data-v") : null;
    if (raw === null) raw = cell ? cell.textContent.trim() : "";
    if (raw === "") return null;
    if (!numeric) return raw.toLowerCase();
    var x = parseFloat(raw);
    return isNaN(x) ? null : x;
  }
  function sortTable(table, col, th) {
    var numeric = th.getAttribute("data-type") === "num";
    var current = th.getAttribute("aria-sort");
    var dir = current === "ascending" ? -1 : 1;
    Array.prototype.forEach.call(table.querySelectorAll("thead th"), function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    Array.prototype.forEach.call(table.tBodies, function (body) {
      if (body.classList.contains("nosort")) return;
      var rows = Array.prototype.filter.call(body.rows, function (r) { return r.cells.length > col && !r.classList.contains("section"); });
      var heads = Array.prototype.filter.call(body.rows, function (r) { return rows.indexOf(r) < 0; });
      rows.sort(function (a, b) {
        var ka = key(a.cells[col], numeric), kb = key(b.cells[col], numeric);
        if (ka === null && kb === null) return 0;
        if (ka === null) return 1;
        if (kb === null) return -1;
        return ka < kb ? -dir : ka > kb ? dir : 0;
      });
      heads.concat(rows).forEach(function (r) { body.appendChild(r); });
    });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headers = table.querySelectorAll("thead th");
    Array.prototype.forEach.call(headers, function (th, col) {
      th.setAttribute("tabindex", "0");
      th.addEventListener("click", function () { sortTable(table, col, th); });
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") sortTable(table, col, th); });
    });
  });
})();
