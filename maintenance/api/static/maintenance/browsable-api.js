// The browsable API's "Raw data" forms. DRF's ajax-form.js opens an HTML answer as the
// page but reloads the page for any other one, so a JSON answer from outside DRF's views
// (the idempotency layer's 422 for a request_id reused with another body, its 409 while
// the first request runs) vanished and the clerk thought the write had worked. Such an
// answer is now shown above the form, which keeps what was typed.
(function ($) {
  "use strict";

  function showAnswer(form, xhr) {
    var box = form.find(".browsable-answer");
    if (!box.length) {
      box = $('<div class="alert alert-danger browsable-answer" role="alert"><strong></strong><pre></pre></div>');
      form.prepend(box);
    }
    var text = xhr.responseText || "";
    try {
      text = JSON.stringify(JSON.parse(text), null, 4);
    } catch (error) {
      // not JSON: shown as it came
    }
    box.find("strong").text("HTTP " + xhr.status + " " + (xhr.statusText || ""));
    box.find("pre").text(text);
  }

  function submitRawData(event) {
    var form = $(this);
    var button = $(this.clk);
    var method = (button.data("method") || form.data("method") || form.attr("method") || "GET").toUpperCase();
    var contentType = form.find('select[data-override="content-type"] option:selected').text();
    if (method === "GET" || contentType === "multipart/form-data") {
      return doAjaxSubmit.call(this, event); // DRF's own handling
    }
    event.preventDefault();
    var url = form.attr("action");
    $.ajax({
      url: url,
      method: method,
      data: form.find('[data-override="content"]').val() || "",
      contentType: contentType,
      processData: false,
      headers: { Accept: "text/html; q=1.0, */*" },
    }).always(function (data, textStatus, xhr) {
      if (textStatus !== "success") {
        xhr = data;
      }
      var answered = (xhr.getResponseHeader("content-type") || "").toLowerCase();
      if (answered.indexOf("text/html") === 0) {
        replaceDocument(xhr.responseText);
        history.replaceState({}, "", url);
        scroll(0, 0);
      } else {
        showAnswer(form, xhr);
      }
    });
  }

  $(function () {
    $("form")
      .has('[data-override="content"]')
      .unbind("submit.form-plugin")
      .bind("submit.form-plugin", submitRawData);
  });
})(jQuery);
