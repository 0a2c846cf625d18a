/*
 * AllyProof's progressive enhancement: a small, dependency-free subset of htmx's attributes
 * (hx-get, hx-post, hx-target, hx-swap, hx-trigger="every Ns" / "load") and response headers
 * (HX-Redirect, HX-Refresh). We write it ourselves because the project ships only its own code;
 * the server side uses django-htmx and the same HX-Request header, so the real htmx could
 * replace this file without touching a template. Every page works without JavaScript.
 */
(function () {
  "use strict";

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function resolveTarget(el) {
    var spec = el.getAttribute("hx-target");
    if (!spec || spec === "this") return el;
    if (spec.indexOf("closest ") === 0) return el.closest(spec.slice(8));
    return document.querySelector(spec);
  }

  // Keep keyboard and screen-reader users where they were: when the swapped element held focus,
  // focus its replacement's first control (or the replacement itself).
  function refocus(node) {
    var focusable = node.querySelector("a[href], button:not([disabled]), input:not([disabled]), [tabindex]");
    var target = focusable || node;
    if (!focusable) node.setAttribute("tabindex", "-1");
    target.focus();
  }

  function swap(target, html, how) {
    if (!target) return;
    var hadFocus = target.contains(document.activeElement) && document.activeElement !== document.body;
    if (how === "outerHTML") {
      var holder = document.createElement("div");
      holder.innerHTML = html;
      var nodes = Array.prototype.slice.call(holder.childNodes);
      target.replaceWith.apply(target, nodes);
      nodes.forEach(function (n) { if (n.nodeType === 1) { process(n); enhance(n); labelTables(n); } });
      var first = nodes.filter(function (n) { return n.nodeType === 1; })[0];
      if (hadFocus && first) refocus(first);
      nodes.forEach(function (n) { if (n.nodeType === 1) afterSwap(n); });
    } else {
      target.innerHTML = html;
      process(target);
      enhance(target);
      afterSwap(target);
    }
  }

  function request(el, method, url, body) {
    if (el.getAttribute("aria-busy") === "true") return Promise.resolve();
    el.setAttribute("aria-busy", "true");
    var headers = { "HX-Request": "true", "HX-Current-URL": window.location.href };
    if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
    return fetch(url, { method: method, body: body, headers: headers, credentials: "same-origin" })
      .then(function (response) {
        if (response.headers.get("HX-Redirect")) { window.location.assign(response.headers.get("HX-Redirect")); return; }
        if (response.headers.get("HX-Refresh") === "true") { window.location.reload(); return; }
        if (response.status === 286) { stopPolling(el); }  // htmx's "stop polling" status
        return response.text().then(function (html) {
          if (response.status === 204) return;
          swap(resolveTarget(el), html, el.getAttribute("hx-swap") || "innerHTML");
        });
      })
      .catch(function () { /* network hiccup: the next poll or click tries again */ })
      .finally(function () { el.removeAttribute("aria-busy"); });
  }

  // A fragment that reports the end of background work says so in the page's live region, and asks for
  // the regions it changed (the violations table) to be reloaded in place: no page refresh, no lost focus.
  function afterSwap(root) {
    var said = root.matches("[data-announce]") ? root : root.querySelector("[data-announce]");
    var region = document.getElementById("announcer");
    if (said && region) region.textContent = said.textContent.trim();
    var refresh = root.querySelector("[data-refresh-regions]");
    if (!refresh) return;
    var selectors = refresh.getAttribute("data-refresh-regions").split(",");
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        selectors.forEach(function (selector) {
          var now = document.querySelector(selector.trim()), next = fresh.querySelector(selector.trim());
          if (now && next && !now.contains(document.activeElement)) {
            now.replaceWith(next);
            process(next); enhance(next); labelTables(next);
          }
        });
      })
      .catch(function () { /* the table stays as it was; a reload shows the links */ });
  }

  var pollers = new WeakMap();
  function stopPolling(el) { clearInterval(pollers.get(el)); pollers.delete(el); }

  function process(root) {
    var scope = root.querySelectorAll ? root : document;
    var nodes = Array.prototype.slice.call(scope.querySelectorAll("[hx-trigger]"));
    if (root.hasAttribute && root.hasAttribute("hx-trigger")) nodes.push(root);
    nodes.forEach(function (el) {
      var trigger = el.getAttribute("hx-trigger");
      var url = el.getAttribute("hx-get");
      if (!url || pollers.has(el)) return;
      var every = /every\s+(\d+(?:\.\d+)?)(ms|s)/.exec(trigger);
      if (every) {
        var ms = parseFloat(every[1]) * (every[2] === "s" ? 1000 : 1);
        pollers.set(el, setInterval(function () {
          if (!document.body.contains(el)) { stopPolling(el); return; }
          request(el, "GET", url);
        }, ms));
      } else if (trigger === "load") {
        pollers.set(el, 0);
        request(el, "GET", url);
      }
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var url = form.getAttribute("hx-post");
    if (!url) return;
    event.preventDefault();
    var data = new FormData(form);
    if (event.submitter && event.submitter.name) data.append(event.submitter.name, event.submitter.value);
    request(form, "POST", url, data);
  });

  // The picker: its button says how many violations are ticked ("Push 3 selected").
  function updatePicker(picker) {
    var boxes = picker.querySelectorAll("input[type=checkbox]");
    var ticked = Array.prototype.filter.call(boxes, function (b) { return b.checked; }).length;
    var button = picker.querySelector("[data-picker-submit]");
    if (!button) return;
    button.textContent = ticked === boxes.length
      ? "Push " + ticked + " to " + picker.getAttribute("data-project")
      : "Push " + ticked + " selected";
    button.disabled = ticked === 0;
  }

  // Sync rules: the amber warning follows the project key; "Save sync rules" is enabled only when
  // something changed and every ticked site has a project key (the server checks the same and more).
  function formState(form) {
    return Array.prototype.map.call(form.elements, function (el) {
      return el.name + "=" + (el.type === "checkbox" ? el.checked : el.value);
    }).join("&");
  }

  function updateRules(form) {
    var complete = true;
    form.querySelectorAll("[data-rule-row]").forEach(function (row) {
      var project = row.querySelector("[data-rule-project]");
      var blank = !project.value.trim();
      row.querySelector("[data-project-warning]").hidden = !blank;
      if (blank && row.querySelector("[data-rule-enabled]").checked) complete = false;
    });
    var save = form.querySelector("[data-rules-save]");
    if (save) save.disabled = !complete || formState(form) === form.getAttribute("data-initial");
  }

  // With the picker open its own button is the action: hide the collapsed one so there is one.
  function updatePickerDetails(details) {
    var form = details.closest("form");
    var collapsed = form && form.querySelector("[data-collapsed-push]");
    if (collapsed) collapsed.hidden = details.open;
    // Content that is fetched the first time its <details> opens (the picker's checklist).
    var lazy = details.querySelector("[data-lazy-src]");
    if (details.open && lazy && !lazy.hasAttribute("data-loaded")) {
      lazy.setAttribute("data-loaded", "");
      lazy.setAttribute("aria-busy", "true");
      fetch(lazy.getAttribute("data-lazy-src"), { headers: { "HX-Request": "true" }, credentials: "same-origin" })
        .then(function (response) { return response.text(); })
        .then(function (html) { lazy.innerHTML = html; process(lazy); enhance(lazy); })
        .catch(function () { lazy.removeAttribute("data-loaded"); })
        .finally(function () { lazy.removeAttribute("aria-busy"); });
    }
  }

  function enhance(root) {
    root.querySelectorAll("[data-picker-details]:not([data-enhanced])").forEach(function (details) {
      details.setAttribute("data-enhanced", "");
      details.addEventListener("toggle", function () { updatePickerDetails(details); });
      updatePickerDetails(details);
    });
    root.querySelectorAll("[data-picker]").forEach(updatePicker);
    root.querySelectorAll("[data-rules-form]").forEach(function (form) {
      // A refused save shows what was posted, not what is saved: that is still a change to save.
      if (!form.hasAttribute("data-unsaved")) form.setAttribute("data-initial", formState(form));
      updateRules(form);
    });
  }

  // Sync rules: when a row's project key changes, its issue-type control offers that project's types.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("[data-rule-project]")) return;
    var row = input.closest("[data-rule-row]");
    var control = row && row.querySelector("[data-issue-type-control][data-src]");
    if (!control) return;
    var current = control.querySelector("select, input");
    var url = control.getAttribute("data-src") + "&project=" + encodeURIComponent(input.value.trim()) +
      "&current=" + encodeURIComponent(current ? current.value : "");
    fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(); })
      .then(function (html) {
        if (control.contains(document.activeElement)) return;  // never pull a control from under the user
        control.outerHTML = html;
        var form = row.closest("[data-rules-form]");
        if (form) updateRules(form);
      })
      .catch(function () { /* the typed name still works; the server checks it on save */ });
  });

  ["change", "input"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var picker = event.target.closest && event.target.closest("[data-picker]");
      if (picker) updatePicker(picker);
      var rules = event.target.closest && event.target.closest("[data-rules-form]");
      if (rules) updateRules(rules);
    });
  });

  // Narrow screens show each table row as a card (app.css); label each cell with its column, and keep
  // the table's roles explicit, since some browsers drop table semantics when cells are display:block.
  function labelTables(root) {
    root.querySelectorAll("table.data:not([data-labelled])").forEach(function (table) {
      table.setAttribute("data-labelled", "");
      table.setAttribute("role", "table");
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        th.setAttribute("role", "columnheader");
        return th.textContent.trim();
      });
      table.querySelectorAll("tr").forEach(function (tr) {
        tr.setAttribute("role", "row");
        Array.prototype.forEach.call(tr.children, function (cell, i) {
          if (cell.closest("thead")) return;
          cell.setAttribute("role", cell.tagName === "TH" ? "rowheader" : "cell");
          if (heads[i] && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", heads[i]);
        });
      });
      table.querySelectorAll("thead, tbody").forEach(function (group) { group.setAttribute("role", "rowgroup"); });
    });
  }

  // A page that answers an action (a refused form, a token shown once) marks where to look with
  // autofocus; browsers skip autofocus on non-form elements in some cases, so make sure.
  function autofocus() {
    var target = document.querySelector("[autofocus]");
    if (target && (document.activeElement === document.body || !document.activeElement)) target.focus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    process(document); enhance(document); labelTables(document); autofocus();
  });
})();

// "Copy diagnostics" (and any [data-copy] button): the text stays selectable without JavaScript.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-copy]").forEach(function (button) { button.hidden = false; });
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    var status = button.parentNode.querySelector("[data-copy-status]");
    var say = function (text) { if (status) status.textContent = text; };
    source.select();
    var done = navigator.clipboard ? navigator.clipboard.writeText(source.value) : Promise.reject();
    done.then(function () { say("Copied."); },
              function () { say(document.execCommand("copy") ? "Copied." : "Select the text and copy it."); });
  });
})();

// Tooltips (WCAG 1.4.13): Escape dismisses the one shown by hover or focus, without moving focus;
// it comes back the next time the pointer or focus arrives.
(function () {
  "use strict";
  var hovered = null;  // tracked from pointer events: :hover can lag a frame behind the pointer
  document.addEventListener("pointerover", function (event) {
    hovered = (event.target.closest && event.target.closest(".tooltip-host")) || null;
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll(".tooltip-host").forEach(function (host) {
      if (host === hovered || host.matches(":hover") || host.matches(":focus-within")) host.setAttribute("data-dismissed", "");
    });
  });
  function reset(event) {
    var host = event.target.closest && event.target.closest(".tooltip-host");
    if (!host) return;
    if (event.type === "focusout" && host.contains(event.relatedTarget)) return;
    host.removeAttribute("data-dismissed");
  }
  document.addEventListener("pointerout", function (event) {
    var host = event.target.closest && event.target.closest(".tooltip-host");
    if (host && !host.contains(event.relatedTarget)) {
      host.removeAttribute("data-dismissed");
      if (hovered === host) hovered = null;
    }
  });
  document.addEventListener("focusout", reset);
})();
