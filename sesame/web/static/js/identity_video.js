/* The online identification's video: recorded in the browser with MediaRecorder, then put in
   the form's file input, so that one form (and one server path) takes both a recording and a
   file chosen by hand. Without a camera, MediaRecorder or this script, the file input is the way:
   a video recorded with the phone's camera app. */
(function () {
  "use strict";

  var MAX_SECONDS = 20;
  var BITS_PER_SECOND = 600000;
  var TYPES = ["video/webm;codecs=vp8,opus", "video/webm", "video/mp4"];

  function supportedType() {
    for (var i = 0; i < TYPES.length; i += 1) {
      if (window.MediaRecorder.isTypeSupported(TYPES[i])) {
        return TYPES[i];
      }
    }
    return "";
  }

  function setup(form) {
    var recorder = form.querySelector("[data-recorder]");
    var input = form.querySelector("input#video");
    if (!recorder || !input || !window.MediaRecorder || !navigator.mediaDevices ||
        !navigator.mediaDevices.getUserMedia || !window.DataTransfer) {
      return;
    }
    var preview = recorder.querySelector("[data-preview]");
    var cameraButton = recorder.querySelector("[data-camera]");
    var recordButton = recorder.querySelector("[data-record]");
    var stopButton = recorder.querySelector("[data-stop]");
    var status = recorder.querySelector("[data-recorder-status]");
    var messages = recorder.querySelector("[data-messages]");
    var stream = null;
    var media = null;
    var chunks = [];
    var timer = null;
    var playbackUrl = null;

    function say(key) {
      var message = messages && messages.content.querySelector('[data-msg="' + key + '"]');
      status.textContent = message ? message.textContent : "";
    }

    function showLive() {
      if (playbackUrl) {
        URL.revokeObjectURL(playbackUrl);
        playbackUrl = null;
      }
      preview.removeAttribute("src");
      preview.controls = false;
      preview.muted = true;
      preview.srcObject = stream;
    }

    cameraButton.addEventListener("click", function () {
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" }, audio: true })
        .then(function (granted) {
          stream = granted;
          showLive();
          cameraButton.disabled = true;
          recordButton.disabled = false;
          say("camera_on");
        })
        .catch(function () {
          say("no_camera");
          cameraButton.disabled = true;
          recordButton.disabled = true;
        });
    });

    recordButton.addEventListener("click", function () {
      if (!stream) {
        return;
      }
      showLive();
      chunks = [];
      var type = supportedType();
      var options = { videoBitsPerSecond: BITS_PER_SECOND };
      if (type) {
        options.mimeType = type;
      }
      media = new MediaRecorder(stream, options);
      media.addEventListener("dataavailable", function (event) {
        if (event.data && event.data.size) {
          chunks.push(event.data);
        }
      });
      media.addEventListener("stop", function () {
        window.clearTimeout(timer);
        var mediaType = (media.mimeType || type || "video/webm").split(";")[0];
        var blob = new Blob(chunks, { type: mediaType });
        var file = new File([blob], mediaType === "video/mp4" ? "video.mp4" : "video.webm", { type: mediaType });
        var chosen = new DataTransfer();
        chosen.items.add(file);
        input.files = chosen.files;
        preview.srcObject = null;
        playbackUrl = URL.createObjectURL(blob);
        preview.src = playbackUrl;
        preview.muted = false;
        preview.controls = true;
        recordButton.disabled = false;
        stopButton.disabled = true;
        say("recorded");
      });
      media.start(1000);
      recordButton.disabled = true;
      stopButton.disabled = false;
      say("recording");
      timer = window.setTimeout(function () {
        if (media && media.state === "recording") {
          media.stop();
        }
      }, MAX_SECONDS * 1000);
    });

    stopButton.addEventListener("click", function () {
      if (media && media.state === "recording") {
        media.stop();
      }
    });

    recorder.hidden = false;
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-video-form]").forEach(setup);
  });
})();
