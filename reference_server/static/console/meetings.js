// The attendance page: "all present" marks every member present with one tap.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var all = document.getElementById("all-present");
  if (!all) { return; }
  all.addEventListener("click", function () {
    document.querySelectorAll(".mt-present input[type=radio]").forEach(function (radio) {
      radio.checked = true;
    });
  });
});
