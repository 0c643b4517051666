/* 後で見る on the recording page: keep the moment the player is at (web/templates/saved/_button.html). */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form.save-later-form[data-player]");
    if (!form) return;
    var player = document.getElementById("player");
    var field = form.querySelector("input[name=t]");
    if (player && field && player.currentTime > 0) field.value = player.currentTime.toFixed(1);
  });
})();
