// The Sésame phone app (ADR 0008), plain JavaScript.
//
// Activation: the tenant's login, the SMS code, a 4-digit secret code chosen and confirmed on a
// digit pad, then an ECDSA P-256 key pair made by WebCrypto as non-extractable: the private key
// never leaves this browser (IndexedDB keeps the CryptoKey object itself), the public key is
// registered with the server. Afterwards: the requests waiting for this device, polled every few
// seconds while the app is open; to approve one, the number shown by the website (number
// matching) and the secret code, signed by the device's key with the server's nonce.
(function () {
  "use strict";

  var root = document.getElementById("phone-app");
  if (!root) {
    return;
  }
  var TEXTS = JSON.parse(document.getElementById("app-texts").textContent);
  var TENANT = root.getAttribute("data-tenant");
  var API = root.getAttribute("data-api");
  var DB_NAME = "sesame-app";
  var STORE = "devices";
  var POLL_MS = 3000;

  var state = {
    activation: null, // {id, token, mobile}
    label: "",
    keyPair: null,
    device: null, // {tenant, deviceId, label, privateKey}
    clockOffset: 0, // server time minus ours, seconds
    pollTimer: null,
    busy: false,
    shown: {}, // request ids on screen
  };

  // -- small helpers -------------------------------------------------------------------------------

  function text(key, values) {
    var value = TEXTS[key] || key;
    Object.keys(values || {}).forEach(function (name) {
      value = value.split("{" + name + "}").join(String(values[name]));
    });
    return value;
  }

  function $(selector, scope) {
    return (scope || root).querySelector(selector);
  }

  function show(name) {
    root.setAttribute("data-state", name);
    Array.prototype.forEach.call(root.querySelectorAll("[data-screen]"), function (screen) {
      screen.hidden = screen.getAttribute("data-screen") !== name;
    });
    var screen = $('[data-screen="' + name + '"]');
    var heading = screen && screen.querySelector("h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }

  function setError(form, message) {
    var box = form.querySelector("[data-error]");
    if (!box) {
      return;
    }
    box.textContent = message || "";
    box.hidden = !message;
  }

  function base64url(bytes) {
    var binary = "";
    var view = new Uint8Array(bytes);
    for (var i = 0; i < view.length; i++) {
      binary += String.fromCharCode(view[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function api(path, body) {
    return fetch(API + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      credentials: "omit",
      cache: "no-store",
      body: JSON.stringify(body),
    }).then(function (response) {
      return response
        .json()
        .catch(function () { return {}; })
        .then(function (data) { return { ok: response.ok, status: response.status, data: data }; });
    });
  }

  // -- storage of the device (IndexedDB keeps the non-extractable CryptoKey) -------------------------

  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore(STORE, { keyPath: "tenant" });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function withStore(mode, action) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var result = action(tx.objectStore(STORE));
        tx.oncomplete = function () { db.close(); resolve(result && result.result); };
        tx.onerror = function () { db.close(); reject(tx.error); };
      });
    });
  }

  function loadDevice() {
    return withStore("readonly", function (store) { return store.get(TENANT); });
  }

  function saveDevice(device) {
    return withStore("readwrite", function (store) { return store.put(device); });
  }

  function forgetDevice() {
    return withStore("readwrite", function (store) { return store.delete(TENANT); });
  }

  // -- signatures -------------------------------------------------------------------------------------

  function sign(message) {
    var bytes = new TextEncoder().encode(message);
    return crypto.subtle
      .sign({ name: "ECDSA", hash: { name: "SHA-256" } }, state.device.privateKey, bytes)
      .then(base64url); // raw r||s, 64 bytes: what the server expects
  }

  // The exact bytes the server checks: keys in sorted order, no spaces (JSON.stringify keeps the
  // order in which keys were added).
  function listingInput(timestamp) {
    return JSON.stringify({ action: "pending", device_id: state.device.deviceId, tenant: TENANT, timestamp: timestamp });
  }

  function decisionInput(request, bindingCode, decision) {
    return JSON.stringify({
      binding_code: bindingCode,
      decision: decision,
      nonce: request.nonce,
      request_id: request.request_id,
      service: request.service,
    });
  }

  // -- the digit pad ---------------------------------------------------------------------------------------

  var pad = {
    form: null,
    input: null,
    length: 4,
    onDone: null,
    onCancel: null,
  };

  function openPad(options) {
    pad.form = $('[data-form="pad"]');
    pad.input = $("#pad-input");
    pad.length = options.length;
    pad.onDone = options.done;
    pad.onCancel = options.cancel || null;
    $("[data-pad-title]").textContent = options.title;
    $("[data-pad-hint]").textContent = options.hint || "";
    $("[data-pad-label]").textContent = options.label || options.title;
    pad.input.type = options.secret ? "password" : "text";
    pad.input.maxLength = options.length;
    pad.input.value = "";
    $('[data-action="pad-cancel"]').hidden = !options.cancel;
    setError(pad.form, options.error || "");
    show("pad"); // the error, if any, is a role="alert": read out at once
  }

  function padKey(event) {
    var key = event.target.closest("[data-digit], [data-action]");
    if (!key || !pad.input) {
      return;
    }
    var digit = key.getAttribute("data-digit");
    var action = key.getAttribute("data-action");
    if (digit !== null && pad.input.value.length < pad.length) {
      pad.input.value += digit;
    } else if (action === "delete") {
      pad.input.value = pad.input.value.slice(0, -1);
    } else if (action === "clear") {
      pad.input.value = "";
    } else if (action === "pad-cancel" && pad.onCancel) {
      pad.onCancel();
    }
  }

  function padSubmit(event) {
    event.preventDefault();
    var value = pad.input.value.trim();
    if (!/^[0-9]+$/.test(value) || value.length !== pad.length) {
      setError(pad.form, text(pad.length === 4 ? "pin_format" : "binding_format"));
      pad.input.focus();
      return;
    }
    setError(pad.form, "");
    pad.onDone(value);
  }

  // -- activation ------------------------------------------------------------------------------------------

  function submitLogin(event) {
    event.preventDefault();
    var form = event.target;
    if (state.busy) {
      return;
    }
    state.busy = true;
    setError(form, "");
    state.label = form.label.value.trim();
    api("/activation", { email: form.email.value.trim(), password: form.password.value })
      .then(function (answer) {
        if (!answer.ok) {
          setError(form, answer.data.message || text("network"));
          return;
        }
        form.password.value = "";
        state.activation = {
          id: answer.data.activation_id,
          token: answer.data.activation_token,
          mobile: answer.data.mobile_masked,
        };
        $("[data-code-sent]").textContent = text("code_sent", { mobile: state.activation.mobile });
        show("code");
      })
      .catch(function () { setError(form, text("network")); })
      .then(function () { state.busy = false; });
  }

  function activationBody(extra) {
    var body = { activation_id: state.activation.id, activation_token: state.activation.token };
    Object.keys(extra || {}).forEach(function (key) { body[key] = extra[key]; });
    return body;
  }

  function submitCode(event) {
    event.preventDefault();
    var form = event.target;
    if (state.busy) {
      return;
    }
    state.busy = true;
    setError(form, "");
    api("/activation/code", activationBody({ code: form.code.value.trim() }))
      .then(function (answer) {
        if (answer.ok) {
          choosePin();
        } else if (answer.data.error === "code_wrong") {
          setError(form, answer.data.message);
        } else {
          fail(answer.data.message);
        }
      })
      .catch(function () { setError(form, text("network")); })
      .then(function () { state.busy = false; });
  }

  function resend() {
    var form = $('[data-form="code"]');
    api("/activation/resend", activationBody()).then(function (answer) {
      var notice = form.querySelector("[data-notice]");
      if (answer.ok) {
        setError(form, "");
        notice.textContent = text("resent");
        notice.hidden = false;
      } else {
        notice.hidden = true;
        setError(form, answer.data.message);
      }
    });
  }

  function choosePin(error) {
    openPad({
      title: text("choose_pin"),
      hint: text("choose_pin_hint"),
      length: 4,
      secret: true,
      error: error,
      done: function (first) {
        openPad({
          title: text("confirm_pin"),
          hint: text("confirm_pin_hint"),
          length: 4,
          secret: true,
          done: function (second) {
            if (first !== second) {
              choosePin(text("codes_differ"));
              return;
            }
            register(first);
          },
        });
      },
    });
  }

  function newKeyPair() {
    if (state.keyPair) {
      return Promise.resolve(state.keyPair);
    }
    // extractable: false -- the private key can sign here, and never be read out.
    return crypto.subtle
      .generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"])
      .then(function (pair) {
        state.keyPair = pair;
        return pair;
      });
  }

  function register(pin) {
    $("[data-pad-hint]").textContent = text("creating_key");
    newKeyPair()
      .then(function (pair) { return crypto.subtle.exportKey("jwk", pair.publicKey); })
      .then(function (jwk) {
        var publicKey = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
        return api("/register", activationBody({ public_key: publicKey, pin: pin, label: state.label }));
      })
      .then(function (answer) {
        if (answer.ok) {
          var device = {
            tenant: TENANT,
            deviceId: answer.data.device_id,
            label: answer.data.label,
            privateKey: state.keyPair.privateKey,
            createdAt: new Date().toISOString(),
          };
          return saveDevice(device).then(function () {
            state.device = device;
            state.activation = null;
            state.keyPair = null;
            home(text("activated"));
          });
        }
        if (answer.data.error === "pin_rejected") {
          choosePin(answer.data.message);
          return null;
        }
        fail(answer.data.message);
        return null;
      })
      .catch(function () { fail(text("network")); });
  }

  function fail(message) {
    $("[data-failed-message]").textContent = message || text("network");
    show("failed");
  }

  function restart() {
    state.activation = null;
    state.keyPair = null;
    show("login");
  }

  // -- the requests ----------------------------------------------------------------------------------------------

  function home(message) {
    stopPolling();
    var result = $("[data-home-result]");
    result.textContent = message || "";
    result.hidden = !message;
    $("[data-device-label]").textContent = state.device.label;
    show("home");
    poll();
  }

  function stopPolling() {
    if (state.pollTimer) {
      window.clearTimeout(state.pollTimer);
      state.pollTimer = null;
    }
  }

  function schedule() {
    stopPolling();
    if (root.getAttribute("data-state") === "home" && !document.hidden) {
      state.pollTimer = window.setTimeout(poll, POLL_MS);
    }
  }

  function now() {
    return Math.floor(Date.now() / 1000) + state.clockOffset;
  }

  function poll() {
    if (!state.device || root.getAttribute("data-state") !== "home") {
      return;
    }
    var timestamp = now();
    sign(listingInput(timestamp))
      .then(function (signature) {
        return api("/pending", { device_id: state.device.deviceId, timestamp: timestamp, signature: signature });
      })
      .then(function (answer) {
        if (answer.ok) {
          state.clockOffset = answer.data.server_time - Math.floor(Date.now() / 1000);
          render(answer.data.requests);
        } else if (answer.data.error === "stale_signature" && answer.data.server_time) {
          state.clockOffset = answer.data.server_time - Math.floor(Date.now() / 1000);
        } else if (answer.data.error === "device_disabled" || answer.data.error === "unknown_device") {
          disabled();
          return;
        } else {
          $("[data-home-status]").textContent = answer.data.message || text("network");
        }
        schedule();
      })
      .catch(function () {
        $("[data-home-status]").textContent = navigator.onLine === false ? text("offline") : text("network");
        schedule();
      });
  }

  function render(requests) {
    var list = $("[data-requests]");
    var template = $("[data-request-template]");
    var ids = requests.map(function (request) { return request.request_id; });
    var key = ids.join(",");
    if (list.getAttribute("data-ids") === key) {
      return; // unchanged: leave the focus where it is
    }
    list.setAttribute("data-ids", key);
    list.textContent = "";
    $("[data-home-status]").textContent = requests.length ? "" : text("no_request");
    requests.forEach(function (request) {
      var item = template.content.firstElementChild.cloneNode(true);
      item.setAttribute("data-request-id", request.request_id);
      item.querySelector('[data-field="service"]').textContent = request.service;
      var time = new Date(request.expires_at).toLocaleTimeString(document.documentElement.lang || undefined, {
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
      });
      item.querySelector('[data-field="expires"]').textContent = text("expires", { time: time });
      if (request.binding_mode === "compare" && request.binding_message) {
        var binding = item.querySelector('[data-field="binding"]');
        binding.textContent = request.binding_message;
        binding.hidden = false;
      }
      item.querySelector('[data-action="approve"]').addEventListener("click", function () { approve(request); });
      item.querySelector('[data-action="deny"]').addEventListener("click", function () { deny(request); });
      list.appendChild(item);
    });
  }

  function backHome(message) {
    $("[data-requests]").removeAttribute("data-ids");
    home(message);
  }

  function approve(request) {
    stopPolling();
    var cancel = function () { backHome(""); };
    if (request.binding_mode === "compare") {
      askPin(request, request.binding_message, "");
      return;
    }
    openPad({
      title: text("enter_binding", { service: request.service }),
      hint: text("enter_binding_hint"),
      length: 2,
      secret: false,
      cancel: cancel,
      done: function (binding) { askPin(request, binding, ""); },
    });
  }

  function askPin(request, binding, error) {
    openPad({
      title: text("enter_pin"),
      hint:
        request.binding_mode === "compare"
          ? text("compare_binding", { service: request.service, message: request.binding_message })
          : text("enter_pin_hint", { service: request.service }),
      length: 4,
      secret: true,
      error: error,
      cancel: function () { backHome(""); },
      done: function (pin) { send(request, "approve", binding, pin); },
    });
  }

  function deny(request) {
    stopPolling();
    send(request, "deny", "", null);
  }

  function send(request, decision, binding, pin) {
    sign(decisionInput(request, binding, decision))
      .then(function (signature) {
        var body = {
          device_id: state.device.deviceId,
          request_id: request.request_id,
          decision: decision,
          binding_code: binding,
          signature: signature,
        };
        if (pin !== null) {
          body.pin = pin;
        }
        return api("/decision", body);
      })
      .then(function (answer) {
        var error = answer.data.error;
        if (answer.ok) {
          backHome(answer.data.status === "approved" ? text("approved", { service: request.service }) : text("denied"));
        } else if (error === "wrong_pin") {
          askPin(request, binding, text("wrong_pin", { remaining: answer.data.remaining }));
        } else if (error === "device_disabled" || error === "unknown_device") {
          disabled();
        } else if (error === "binding_mismatch") {
          backHome(text("binding_mismatch"));
        } else if (error === "not_pending" || error === "not_found") {
          backHome(text("not_pending"));
        } else {
          backHome(answer.data.message || text("network"));
        }
      })
      .catch(function () { backHome(text("network")); });
  }

  function disabled() {
    stopPolling();
    forgetDevice().then(function () {
      state.device = null;
      show("disabled");
    });
  }

  function forget() {
    if (!window.confirm(text("remove_confirm"))) {
      return;
    }
    stopPolling();
    forgetDevice().then(function () {
      state.device = null;
      show("login");
    });
  }

  // -- start -------------------------------------------------------------------------------------------------

  function supported() {
    return window.isSecureContext && window.crypto && crypto.subtle && window.indexedDB && window.TextEncoder;
  }

  function start() {
    root.addEventListener("click", function (event) {
      var target = event.target.closest("[data-action]");
      if (target && target.closest('[data-form="pad"]')) {
        padKey(event);
        return;
      }
      if (event.target.closest('[data-form="pad"] [data-digit]')) {
        padKey(event);
        return;
      }
      var action = target && target.getAttribute("data-action");
      if (action === "resend") {
        resend();
      } else if (action === "reactivate" || action === "restart") {
        restart();
      } else if (action === "forget") {
        forget();
      }
    });
    $('[data-form="login"]').addEventListener("submit", submitLogin);
    $('[data-form="code"]').addEventListener("submit", submitCode);
    $('[data-form="pad"]').addEventListener("submit", padSubmit);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && root.getAttribute("data-state") === "home") {
        poll();
      }
    });
    if (!supported()) {
      show("unsupported");
      return;
    }
    var worker = root.getAttribute("data-service-worker");
    if ("serviceWorker" in navigator && worker) {
      navigator.serviceWorker.register(worker, { scope: "/app/" }).catch(function () { /* the app works without it */ });
    }
    loadDevice()
      .then(function (device) {
        if (device && device.privateKey) {
          state.device = device;
          home("");
        } else {
          show("login");
        }
      })
      .catch(function () { show("unsupported"); });
  }

  start();
})();
