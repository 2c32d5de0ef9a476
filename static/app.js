// caseflow pages: small enhancements over plain HTML forms.
// - Conditional fields: shown while their `if` holds; hidden ones are
//   disabled so their data is not sent.
// - Repeatable rows: add, remove, move up/down; rows are renumbered so the
//   names (`contacts[0].name`) follow the order on screen.
// - Editor: line numbers follow the text; error links select their line.
(function () {
  "use strict";

  function controlValue(form, name) {
    var controls = form.querySelectorAll("[name]");
    for (var i = 0; i < controls.length; i++) {
      var c = controls[i];
      if (c.name !== name || c.disabled) continue;
      if (c.type === "checkbox") return c.checked ? "true" : "false";
      if (c.type === "radio") { if (c.checked) return c.value; continue; }
      return c.value;
    }
    return null;
  }

  function applyConditions(form) {
    var blocks = form.querySelectorAll("[data-when]");
    for (var i = 0; i < blocks.length; i++) {
      var block = blocks[i];
      var values = JSON.parse(block.getAttribute("data-when-values") || "[]");
      var show = values.indexOf(controlValue(form, block.getAttribute("data-when"))) !== -1;
      block.hidden = !show;
      var inputs = block.querySelectorAll("input, select, textarea, button");
      for (var j = 0; j < inputs.length; j++) inputs[j].disabled = !show;
    }
  }

  function escapeRe(text) { return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

  function idOf(name) {
    return "field-" + name.replace(/[.[]/g, "-").replace(/]/g, "");
  }

  // Renumbers the rows of one repeatable group after a change.
  function renumber(group) {
    var base = group.getAttribute("data-repeat");
    var rows = group.querySelector(".rows").children;
    var pattern = new RegExp("^" + escapeRe(base) + "\\[(\\d+|__i__)\\]");
    var idPattern = new RegExp("^" + escapeRe(idOf(base)) + "-(\\d+|__i__)");
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var number = row.querySelector(".row-number");
      if (number) number.textContent = String(i + 1);
      var named = row.querySelectorAll("[name], [id], [for], [aria-describedby], [data-repeat], [data-when]");
      for (var j = 0; j < named.length; j++) {
        var el = named[j];
        if (el.name) el.name = el.name.replace(pattern, base + "[" + i + "]");
        ["data-repeat", "data-when"].forEach(function (attr) {
          var v = el.getAttribute(attr);
          if (v) el.setAttribute(attr, v.replace(pattern, base + "[" + i + "]"));
        });
        ["id", "for"].forEach(function (attr) {
          var v = el.getAttribute(attr);
          if (v) el.setAttribute(attr, v.replace(idPattern, idOf(base) + "-" + i));
        });
        var d = el.getAttribute("aria-describedby");
        if (d) el.setAttribute("aria-describedby", d.split(" ").map(function (x) { return x.replace(idPattern, idOf(base) + "-" + i); }).join(" "));
      }
    }
  }

  function onRepeatClick(event) {
    var button = event.target.closest("button[data-action]");
    if (!button) return;
    var group = button.closest("[data-repeat]");
    if (!group) return;
    var rows = group.querySelector(".rows");
    var row = button.closest("li.row");
    var action = button.getAttribute("data-action");
    var focus = null;
    if (action === "add" && button.parentElement === group) {
      var template = group.querySelector(":scope > template");
      var fresh = template.content.firstElementChild.cloneNode(true);
      rows.appendChild(fresh);
      focus = fresh.querySelector("input, select, textarea");
    } else if (action === "remove" && row) {
      var next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      focus = next ? next.querySelector("input, select, textarea") : group.querySelector("[data-action=add]");
    } else if (action === "up" && row && row.previousElementSibling) {
      rows.insertBefore(row, row.previousElementSibling);
      focus = button;
    } else if (action === "down" && row && row.nextElementSibling) {
      rows.insertBefore(row.nextElementSibling, row);
      focus = button;
    } else {
      return;
    }
    event.preventDefault();
    renumber(group);
    applyConditions(group.closest("form"));
    if (focus) focus.focus();
  }

  function setUpEditor(textarea) {
    var gutter = textarea.parentElement.querySelector(".gutter");
    if (!gutter) return;
    var bad = {};
    var marked = gutter.querySelectorAll(".bad");
    for (var i = 0; i < marked.length; i++) bad[marked[i].textContent] = true;
    function draw() {
      var count = textarea.value.split("\n").length;
      if (gutter.children.length === count) return;
      var html = "";
      for (var n = 1; n <= count; n++) html += "<span id=\"L" + n + "\"" + (bad[n] ? " class=\"bad\"" : "") + ">" + n + "</span>";
      gutter.innerHTML = html;
    }
    textarea.addEventListener("input", draw);
    textarea.addEventListener("scroll", function () { gutter.scrollTop = textarea.scrollTop; });
    draw();
    document.addEventListener("click", function (event) {
      var link = event.target.closest("a[data-line]");
      if (!link) return;
      event.preventDefault();
      var line = parseInt(link.getAttribute("data-line"), 10);
      var lines = textarea.value.split("\n");
      var start = 0;
      for (var k = 0; k < line - 1 && k < lines.length; k++) start += lines[k].length + 1;
      var end = start + (lines[line - 1] || "").length;
      textarea.focus();
      textarea.setSelectionRange(start, end);
      var height = parseFloat(getComputedStyle(textarea).lineHeight) || 20;
      textarea.scrollTop = Math.max(0, (line - 3) * height);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var forms = document.querySelectorAll("form");
    for (var i = 0; i < forms.length; i++) {
      (function (form) {
        if (!form.querySelector("[data-when], [data-repeat]")) return;
        applyConditions(form);
        form.addEventListener("change", function () { applyConditions(form); });
        form.addEventListener("input", function () { applyConditions(form); });
        form.addEventListener("click", onRepeatClick);
      })(forms[i]);
    }
    var source = document.getElementById("source");
    if (source) setUpEditor(source);
    var summary = document.querySelector(".error-summary");
    if (summary) summary.focus();
  });
})();
