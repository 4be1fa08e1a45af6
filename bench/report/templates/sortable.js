// Click (or Enter on) a header to sort its table; again to reverse. Cells carry a numeric
// data-sort key; blanks ("—") always sort last. No libraries: the report works offline.
document.querySelectorAll("table.sortable").forEach(function (table) {
  var headers = table.querySelectorAll("thead th");
  headers.forEach(function (th, col) {
    th.tabIndex = 0;
    function sortBy() {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var cell = row.cells[col];
        if (cell.hasAttribute("data-sort")) {
          var s = cell.getAttribute("data-sort");
          return s === "" ? null : Number(s);
        }
        var t = cell.textContent.trim();
        return t === "\u2014" || t === "" ? null : t;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null || y === null) { return (x === null) - (y === null); }
        var d = typeof x === "number" && typeof y === "number" ? x - y
          : String(x).localeCompare(String(y), undefined, {numeric: true});
        return asc ? d : -d;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    }
    th.addEventListener("click", sortBy);
    th.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(); }
    });
  });
});

// Tables wider than the page scroll sideways: say so, or the last columns go unnoticed.
function markWide() {
  document.querySelectorAll(".table-wrap").forEach(function (wrap) {
    wrap.classList.toggle("scrolls", wrap.scrollWidth > wrap.clientWidth + 1);
  });
}
window.addEventListener("resize", markWide);
markWide();
