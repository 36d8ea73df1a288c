// Choosing an approved reply fills the reply box for editing. Without JavaScript the
// form still works: an empty box sends the chosen template as it is.
(function () {
  "use strict";
  var select = document.getElementById("reply-template");
  var box = document.getElementById("reply-body");
  if (!select || !box) { return; }
  select.addEventListener("change", function () {
    var option = select.options[select.selectedIndex];
    var text = option ? option.getAttribute("data-text") : null;
    if (text) { box.value = text; box.focus(); }
  });
}());
