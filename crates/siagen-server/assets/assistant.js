// siagen « Assistant » page: streams a chat answer from /v1/chat/completions (same origin,
// session cookie + anti-CSRF header) and shows, for learners, each token's probability and its
// alternatives. The server checks everything (role, audit, energy); this script only displays.
"use strict";

(function () {
  var LOW = 0.3;

  function $(id) {
    return document.getElementById(id);
  }

  function pct(p) {
    var v = p * 100;
    return (v >= 10 ? v.toFixed(0) : v.toFixed(1)).replace(".", ",") + " %";
  }

  // Makes whitespace visible in a token label.
  function showTok(t) {
    if (t === "") {
      return "∅";
    }
    return t.replace(/\n/g, "↵").replace(/ /g, "·");
  }

  function init() {
    var root = $("assistant");
    if (!root) {
      return;
    }
    var csrf = root.getAttribute("data-csrf");
    var form = $("ask-form");
    var conv = $("conversation");
    var status = $("gen-status");
    var temp = $("temperature");
    var tempOut = $("temperature-value");
    var btnAsk = $("btn-ask");
    var btnStop = $("btn-stop");
    var probs = $("probs");
    var tokensEl = $("tokens");
    var detail = $("tok-detail");
    var save = $("save");
    var messages = [];
    var controller = null;

    function showTemp() {
      tempOut.textContent = Number(temp.value).toFixed(1).replace(".", ",");
    }
    temp.addEventListener("input", showTemp);
    showTemp();

    function bubble(role, text) {
      var li = document.createElement("li");
      li.className = "msg msg-" + role;
      var who = document.createElement("p");
      who.className = "msg-who";
      who.textContent = role === "user" ? "Vous" : "Modèle (brouillon à relire)";
      var body = document.createElement("div");
      body.className = "msg-text";
      body.textContent = text;
      li.appendChild(who);
      li.appendChild(body);
      conv.appendChild(li);
      return body;
    }

    function showDetail(tok) {
      detail.textContent = "";
      var h = document.createElement("p");
      h.innerHTML = "";
      var strong = document.createElement("strong");
      strong.textContent = "« " + showTok(tok.token) + " »";
      h.appendChild(document.createTextNode("Jeton choisi : "));
      h.appendChild(strong);
      h.appendChild(document.createTextNode(" — probabilité " + pct(tok.p)));
      detail.appendChild(h);
      var table = document.createElement("table");
      table.className = "list alternatives";
      var head = document.createElement("thead");
      head.innerHTML = '<tr><th scope="col">Candidat</th><th scope="col">Probabilité</th><th scope="col"></th></tr>';
      table.appendChild(head);
      var body = document.createElement("tbody");
      (tok.top || []).forEach(function (alt) {
        var tr = document.createElement("tr");
        var p = Math.exp(alt.logprob);
        if (alt.token === tok.token) {
          tr.className = "chosen";
        }
        var td1 = document.createElement("td");
        td1.textContent = "« " + showTok(alt.token) + " »";
        var td2 = document.createElement("td");
        td2.textContent = pct(p);
        var td3 = document.createElement("td");
        var bar = document.createElement("span");
        bar.className = "pbar";
        bar.style.width = Math.max(1, Math.round(p * 100)) + "%";
        td3.appendChild(bar);
        tr.appendChild(td1);
        tr.appendChild(td2);
        tr.appendChild(td3);
        body.appendChild(tr);
      });
      table.appendChild(body);
      detail.appendChild(table);
    }

    function addToken(lp) {
      var tok = { token: lp.token, p: Math.exp(lp.logprob), top: lp.top_logprobs || [] };
      var span = document.createElement("button");
      span.type = "button";
      span.className = "tok" + (tok.p < LOW ? " low" : "");
      span.textContent = tok.token;
      var alts = tok.top
        .filter(function (a) {
          return a.token !== tok.token;
        })
        .slice(0, 4)
        .map(function (a) {
          return "« " + showTok(a.token) + " » " + pct(Math.exp(a.logprob));
        })
        .join(", ");
      span.title = "Probabilité " + pct(tok.p) + (alts ? " — autres candidats : " + alts : "");
      span.setAttribute("aria-label", "« " + showTok(tok.token) + " », probabilité " + pct(tok.p));
      span.addEventListener("click", function () {
        tokensEl.querySelectorAll(".tok.selected").forEach(function (e) {
          e.classList.remove("selected");
        });
        span.classList.add("selected");
        showDetail(tok);
      });
      tokensEl.appendChild(span);
    }

    function setBusy(busy) {
      btnAsk.disabled = busy;
      btnStop.disabled = !busy;
    }

    $("btn-reset").addEventListener("click", function () {
      if (controller) {
        controller.abort();
      }
      messages = [];
      conv.textContent = "";
      tokensEl.textContent = "";
      probs.hidden = true;
      save.hidden = true;
      status.textContent = "";
    });

    btnStop.addEventListener("click", function () {
      if (controller) {
        controller.abort();
      }
    });

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var prompt = $("prompt").value.trim();
      var model = $("model").value;
      if (!prompt || !model) {
        status.textContent = !model ? "Aucun modèle disponible." : "Écrivez d'abord un message.";
        return;
      }
      var learn = $("show-probs").checked;
      var temperature = Number(temp.value);
      var maxTokens = Math.max(1, Math.min(2048, Number($("max-tokens").value) || 256));
      messages.push({ role: "user", content: prompt });
      bubble("user", prompt);
      $("prompt").value = "";
      var out = bubble("assistant", "");
      out.parentNode.classList.add("streaming");
      tokensEl.textContent = "";
      detail.innerHTML = '<p class="muted">Cliquez sur un jeton pour voir ses alternatives.</p>';
      probs.hidden = !learn;
      save.hidden = true;
      status.textContent = "Le modèle écrit…";
      setBusy(true);
      controller = new AbortController();
      var body = {
        model: model,
        messages: messages,
        stream: true,
        temperature: temperature,
        max_tokens: maxTokens,
      };
      if (learn) {
        body.logprobs = true;
        body.top_logprobs = 5;
      }
      var answer = "";
      var genId = "";
      var finish = "";
      fetch("/v1/chat/completions", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", "x-csrf-token": csrf },
        body: JSON.stringify(body),
        signal: controller.signal,
      })
        .then(function (resp) {
          if (!resp.ok) {
            return resp.json().then(
              function (p) {
                throw new Error("Le serveur a refusé la demande (" + resp.status + ") : " + (p.detail || p.title || ""));
              },
              function () {
                throw new Error("Le serveur a refusé la demande (" + resp.status + ").");
              },
            );
          }
          var reader = resp.body.getReader();
          var decoder = new TextDecoder();
          var buf = "";
          function handle(data) {
            if (data === "[DONE]") {
              return;
            }
            var chunk;
            try {
              chunk = JSON.parse(data);
            } catch (e) {
              return;
            }
            if (chunk.error) {
              throw new Error("La génération a échoué.");
            }
            if (chunk.id) {
              genId = chunk.id;
            }
            var c = chunk.choices && chunk.choices[0];
            if (!c) {
              return;
            }
            if (c.delta && c.delta.content) {
              answer += c.delta.content;
              out.textContent = answer;
            }
            if (c.logprobs && c.logprobs.content) {
              c.logprobs.content.forEach(addToken);
            }
            if (c.finish_reason) {
              finish = c.finish_reason;
            }
          }
          function pump() {
            return reader.read().then(function (r) {
              if (r.done) {
                return;
              }
              buf += decoder.decode(r.value, { stream: true });
              var events = buf.split(/\r?\n\r?\n/);
              buf = events.pop();
              events.forEach(function (ev) {
                var data = ev
                  .split(/\r?\n/)
                  .filter(function (l) {
                    return l.indexOf("data:") === 0;
                  })
                  .map(function (l) {
                    return l.slice(5).replace(/^ /, "");
                  })
                  .join("\n");
                if (data) {
                  handle(data);
                }
              });
              return pump();
            });
          }
          return pump();
        })
        .then(
          function () {
            messages.push({ role: "assistant", content: answer });
            status.textContent =
              finish === "length" ? "Réponse coupée : longueur maximale atteinte." : "Réponse terminée.";
            if (answer && genId) {
              $("save-model").value = model;
              $("save-generation").value = genId;
              $("save-temperature").value = String(temperature);
              $("save-max-tokens").value = String(maxTokens);
              $("save-text").value = answer;
              save.hidden = false;
            }
          },
          function (err) {
            if (err && err.name === "AbortError") {
              status.textContent = "Génération arrêtée.";
              if (answer) {
                messages.push({ role: "assistant", content: answer });
              }
            } else {
              status.textContent = (err && err.message) || "Erreur de connexion.";
              messages.pop();
            }
          },
        )
        .then(function () {
          out.parentNode.classList.remove("streaming");
          setBusy(false);
          controller = null;
        });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
