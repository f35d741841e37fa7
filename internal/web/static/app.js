// twostep hosted pages: optional enhancements. Every page works without
// this script; it only adds copy buttons and a country search.
(function () {
  "use strict";

  // Copy buttons: <button data-copy="ID" hidden> copies the element's
  // data-copy-text (or its text) and says so in the nearby status.
  document.querySelectorAll("[data-copy]").forEach(function (btn) {
    if (!navigator.clipboard) return;
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var el = document.getElementById(btn.getAttribute("data-copy"));
      if (!el) return;
      var text = el.getAttribute("data-copy-text") || el.textContent;
      var status = btn.parentElement.querySelector(".copy-status");
      navigator.clipboard.writeText(text.trim()).then(function () {
        if (status) status.textContent = "Copied";
      }, function () {
        if (status) status.textContent = "Could not copy; select the text instead";
      });
    });
  });

  // Country list: a search box that narrows the options, and the example
  // number follows the chosen country.
  var select = document.getElementById("country");
  var search = document.getElementById("country-search");
  var example = document.getElementById("phone-example");
  if (select && search) {
    search.parentElement.hidden = false;
    search.addEventListener("input", function () {
      var q = search.value.trim().toLowerCase();
      var first = null;
      Array.prototype.forEach.call(select.options, function (o) {
        var match = !q || o.text.toLowerCase().indexOf(q) >= 0 || o.value.toLowerCase() === q;
        o.hidden = !match;
        if (match && !first) first = o;
      });
      if (first && select.selectedOptions[0] && select.selectedOptions[0].hidden) {
        select.value = first.value;
        select.dispatchEvent(new Event("change"));
      }
    });
  }
  if (select && example) {
    select.addEventListener("change", function () {
      var o = select.selectedOptions[0];
      if (o) example.textContent = o.getAttribute("data-example") || "";
    });
  }
})();
