// siagen web workspace: small comforts only. Every page works without this script; no rule
// lives here (the server checks everything). Loaded from /assets (CSP: no inline script).
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // Print button of the print view.
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () {
      window.print();
    });
  });

  // Copy a secret shown once (API token) to the clipboard.
  document.querySelectorAll("[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var el = document.getElementById(b.getAttribute("data-copy"));
      if (!el || !navigator.clipboard) {
        return;
      }
      navigator.clipboard.writeText(el.textContent.trim()).then(function () {
        b.textContent = "Copié";
      }, function () {
        b.textContent = "Copie impossible : sélectionnez le texte";
      });
    });
  });

  // Ask before destructive or signing actions.
  var confirmations = {
    "btn-validate": "Valider cette version ? Vous attestez l'avoir relue en entier.",
    "btn-reject": "Rejeter ce document ?",
  };
  Object.keys(confirmations).forEach(function (id) {
    var b = document.getElementById(id);
    if (b && b.form) {
      b.form.addEventListener("submit", function (ev) {
        if (!window.confirm(confirmations[id])) {
          ev.preventDefault();
        }
      });
    }
  });

  // Warn before leaving an edited text unsaved.
  var dirty = false;
  document.querySelectorAll("form.wide textarea").forEach(function (t) {
    t.addEventListener("input", function () {
      dirty = true;
    });
    if (t.form) {
      t.form.addEventListener("submit", function () {
        dirty = false;
      });
    }
  });
  window.addEventListener("beforeunload", function (ev) {
    if (dirty) {
      ev.preventDefault();
      ev.returnValue = "";
    }
  });

  // « Rédiger »: hovering or focusing a sentence lights the passages of the notes behind it.
  function light(sentence, on) {
    (sentence.getAttribute("data-sources") || "").split(" ").forEach(function (id) {
      var m = id && document.getElementById(id);
      if (m) {
        m.classList.toggle("lit", on);
        if (on && m.scrollIntoView) {
          m.scrollIntoView({ block: "nearest" });
        }
      }
    });
    sentence.classList.toggle("lit", on);
  }
  document.querySelectorAll("#draft .sentence").forEach(function (s) {
    ["mouseenter", "focus"].forEach(function (e) {
      s.addEventListener(e, function () {
        light(s, true);
      });
    });
    ["mouseleave", "blur"].forEach(function (e) {
      s.addEventListener(e, function () {
        light(s, false);
      });
    });
  });
  // Drafting takes a while: say so while the server writes.
  var draftForm = document.getElementById("draft-form");
  if (draftForm) {
    draftForm.addEventListener("submit", function () {
      var busy = document.getElementById("draft-busy");
      if (busy) {
        busy.textContent = draftForm.getAttribute("data-busy");
      }
      var b = document.getElementById("btn-draft");
      if (b) {
        b.disabled = true;
      }
    });
  }
});
