/* No lost typing: drafts of the case page's note and reply boxes.
   Kept in this tab's sessionStorage only (never sent to the server), so a draft survives
   a refused action, an expired session (the form comes back after signing in) and a
   reload; it is forgotten when its action went through (data-sent) and on sign-out.
   The page works without this script: it only adds the safety net. */
(function () {
  "use strict";
  var PREFIX = "hotline.draft:";
  var DRAFTED = ["note", "reply"];
  var store = null;
  try {
    store = window.sessionStorage;
    store.getItem(PREFIX);
  } catch (e) { return; }

  function forgetAll() {
    var keys = [];
    for (var i = 0; i < store.length; i += 1) {
      if (store.key(i).indexOf(PREFIX) === 0) { keys.push(store.key(i)); }
    }
    keys.forEach(function (key) { store.removeItem(key); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("form.signout"), function (form) {
    form.addEventListener("submit", forgetAll);
  });

  var root = document.getElementById("case");
  if (!root) { return; }
  var reference = root.getAttribute("data-reference");
  var sent = (root.getAttribute("data-sent") || "").split(" ");
  DRAFTED.forEach(function (action) {
    var key = PREFIX + reference + ":" + action;
    if (sent.indexOf(action) >= 0) { store.removeItem(key); }
    var box = document.querySelector('textarea[name="' + action + '-body"]');
    if (!box) { return; }
    var saved = store.getItem(key);
    if (saved && !box.value) {
      box.value = saved;
      var hint = document.createElement("p");
      hint.className = "muted draft-restored";
      hint.id = action + "-draft-restored";
      // The words come from the page, in the reader's language (data-draft-kept).
      hint.textContent = root.getAttribute("data-draft-kept") || "Your unsent draft was kept.";
      box.parentNode.insertBefore(hint, box.nextSibling);
    } else if (box.value) {
      store.setItem(key, box.value);  // a refused action's text, sent back by the server
    }
    box.addEventListener("input", function () {
      if (box.value) { store.setItem(key, box.value); } else { store.removeItem(key); }
    });
  });
}());
