(function () {
  "use strict";
  var form = document.getElementById("answer");
  if (!form) { return; }
  var status = document.getElementById("status");
  var confirm = document.getElementById("confirm");
  var comment = document.getElementById("comment");
  var groups = { detractors: [0, 6], passives: [7, 8], promoters: [9, 10] };

  function say(key) { status.textContent = form.getAttribute("data-say-" + key); }

  function chosen() {
    var radio = form.querySelector("input[name=score]:checked");
    return radio ? radio.value : null;
  }

  function showQuestions(score) {
    var questions = form.querySelectorAll("[data-audience]");
    for (var i = 0; i < questions.length; i++) {
      var range = groups[questions[i].getAttribute("data-audience")];
      questions[i].hidden = !(range === undefined || (score >= range[0] && score <= range[1]));
    }
  }

  function save(score, source) {
    say("saving");
    var body = new URLSearchParams();
    body.set("score", score);
    body.set("source", source);
    return fetch(form.getAttribute("data-click"), {
      method: "POST",
      body: body,
      credentials: "omit",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.ok ? response.json() : { status: "failed" };
    }).then(function (answer) {
      if (answer.status === "saved") {
        say("saved");
        confirm.hidden = true;
      } else {
        say(answer.status === "confirm" ? "confirm" : "failed");
        confirm.hidden = false;
      }
    }, function () {
      say("failed");
      confirm.hidden = false;
    });
  }

  form.addEventListener("change", function (event) {
    if (event.target.name !== "score") { return; }
    showQuestions(Number(event.target.value));
    save(event.target.value, "page");
  });
  var score = chosen();
  if (score !== null) { showQuestions(Number(score)); }
  if (form.hasAttribute("data-auto") && score !== null) {
    save(score, "link");
    comment.focus();
  }
})();
