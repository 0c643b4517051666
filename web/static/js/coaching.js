/* Takumi KB: the coaching-session form (web/templates/coaching/form.html).
   The form works without this script; it only opens the technicians of the organisation
   chosen as "organisation visited", so the people most likely coached are in view. */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    if (!event.target || event.target.id !== "cs-org") return;
    var group = document.querySelector('#cs-technicians details.cs-group[data-org="' + event.target.value + '"]');
    if (group) group.open = true;
  });
})();
