// Passkeys in the browser (WebAuthn): the ceremonies of Sésame's pages, in plain JavaScript.
//
// A form marked data-webauthn="register" (account page), "login" (the login page: a button, and
// the browser's autofill of passkeys) or "assert" (a passkey as second factor) carries the
// server's options as JSON in data-webauthn-options. The browser's answer is put, as JSON with
// base64url fields, in the form's hidden "credential" field and the form is sent: the server
// checks everything (challenge, origin, signature). Without WebAuthn the forms stay hidden and
// the other ways (password, codes) remain.
(function () {
  "use strict";

  var supported = typeof window.PublicKeyCredential === "function" && !!navigator.credentials;

  // -- base64url <-> bytes ------------------------------------------------------------------------

  function toBytes(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // -- options from the server, answers to the server ------------------------------------------------

  function descriptors(list) {
    return (list || []).map(function (item) {
      return { type: item.type, id: toBytes(item.id), transports: item.transports };
    });
  }

  function creationOptions(json) {
    var options = JSON.parse(json);
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    options.excludeCredentials = descriptors(options.excludeCredentials);
    return options;
  }

  function requestOptions(json) {
    var options = JSON.parse(json);
    options.challenge = toBytes(options.challenge);
    options.allowCredentials = descriptors(options.allowCredentials);
    return options;
  }

  function registrationJSON(credential) {
    var response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        attestationObject: toBase64url(response.attestationObject),
        transports: typeof response.getTransports === "function" ? response.getTransports() : []
      },
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults()
    };
  }

  function assertionJSON(credential) {
    var response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        authenticatorData: toBase64url(response.authenticatorData),
        signature: toBase64url(response.signature),
        userHandle: response.userHandle ? toBase64url(response.userHandle) : null
      },
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults()
    };
  }

  // -- the forms -------------------------------------------------------------------------------------

  function send(form, answer) {
    form.querySelector("input[name=credential]").value = JSON.stringify(answer);
    form.setAttribute("data-webauthn-state", "sending");
    form.submit();  // not requestSubmit(): the submit handler below must not run again
  }

  function status(form, failed) {
    var box = form.querySelector("[data-webauthn-status]");
    form.setAttribute("data-webauthn-state", failed ? "failed" : "idle");
    if (box) { box.hidden = !failed; }
  }

  function setupRegister(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      form.setAttribute("data-webauthn-state", "pending");
      var publicKey = creationOptions(form.getAttribute("data-webauthn-options"));
      navigator.credentials.create({ publicKey: publicKey }).then(function (credential) {
        send(form, registrationJSON(credential));
      }, function () { status(form, true); });
    });
  }

  function setupAssert(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      form.setAttribute("data-webauthn-state", "pending");
      var publicKey = requestOptions(form.getAttribute("data-webauthn-options"));
      navigator.credentials.get({ publicKey: publicKey }).then(function (credential) {
        send(form, assertionJSON(credential));
      }, function () { status(form, true); });
    });
  }

  // The login page: the button asks for a passkey at once; meanwhile the identifier field
  // (autocomplete="username webauthn") offers the site's passkeys among its suggestions.
  function setupLogin(form) {
    var pending = null;
    var json = form.getAttribute("data-webauthn-options");

    function conditional() {
      if (typeof PublicKeyCredential.isConditionalMediationAvailable !== "function") { return; }
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (!available) { return; }
        pending = new AbortController();
        form.setAttribute("data-webauthn-conditional", "pending");
        navigator.credentials.get({ publicKey: requestOptions(json), mediation: "conditional", signal: pending.signal })
          .then(function (credential) { send(form, assertionJSON(credential)); }, function () {
            form.setAttribute("data-webauthn-conditional", "ended");
          });
      });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (pending) { pending.abort(); pending = null; }  // one request at a time
      form.setAttribute("data-webauthn-state", "pending");
      navigator.credentials.get({ publicKey: requestOptions(json) }).then(function (credential) {
        send(form, assertionJSON(credential));
      }, function () { status(form, true); });
    });
    conditional();
  }

  var setups = { register: setupRegister, assert: setupAssert, login: setupLogin };
  document.querySelectorAll("[data-webauthn]").forEach(function (form) {
    var setup = setups[form.getAttribute("data-webauthn")];
    if (!supported || !setup || !form.getAttribute("data-webauthn-options")) { return; }
    form.hidden = false;
    setup(form);
  });
  document.querySelectorAll("[data-webauthn-unsupported]").forEach(function (note) { note.hidden = supported; });
})();
