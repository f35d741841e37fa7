// twostep hosted pages: optional enhancements. Every page works without
// this script; it only adds copy buttons, a country search, the countdown
// on "Resend code" and times in the browser's own time zone.
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

  // Times: <time datetime="…" data-local="date|datetime"> holds the server's
  // text, written in the zone the server was configured with and naming it.
  // Here the browser knows the person's zone: rewrite the text in it, in
  // the same form ("29 Nov 2026 at 15:03 CET"), and keep the server's
  // reading as a tooltip.
  var times = document.querySelectorAll("time[data-local]");
  if (times.length) {
    var months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    var zoneFmt = null;
    try {
      var lang = /^en\b/i.test(navigator.language || "") ? navigator.language : "en-GB";
      zoneFmt = new Intl.DateTimeFormat(lang, { timeZoneName: "short" });
    } catch (e) { /* no Intl: times keep the server's text */ }
    times.forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (!zoneFmt || isNaN(d.getTime())) return;
      var text = d.getDate() + " " + months[d.getMonth()] + " " + d.getFullYear();
      if (el.getAttribute("data-local") === "datetime") {
        var zone = "";
        zoneFmt.formatToParts(d).forEach(function (p) {
          if (p.type === "timeZoneName") zone = p.value;
        });
        if (!zone) return;
        text += " at " + two(d.getHours()) + ":" + two(d.getMinutes()) + " " + zone;
      }
      if (text !== el.textContent) {
        el.title = el.textContent;
        el.textContent = text;
      }
    });
  }

  // Resend buttons: <button data-wait="N"> stays disabled for N seconds
  // and counts down. Without this script the button always works, and a
  // press inside the cooldown gets "Wait N seconds" from the server.
  document.querySelectorAll("button[data-wait]").forEach(function (btn) {
    var left = parseInt(btn.getAttribute("data-wait"), 10);
    if (!(left > 0)) return;
    var label = btn.textContent;
    var tick = function () {
      if (left <= 0) {
        btn.disabled = false;
        btn.textContent = label;
        return;
      }
      btn.disabled = true;
      btn.textContent = label + " (" + left + " s)";
      left--;
      setTimeout(tick, 1000);
    };
    tick();
  });
})();
