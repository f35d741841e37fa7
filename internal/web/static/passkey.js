// twostep hosted pages: passkeys and security keys. Loaded only by the pages
// that offer one. The server renders
//
//   <form data-passkey="create|get" data-passkey-options="{"publicKey":…}">
//     <input type="hidden" name="ceremony">  <input type="hidden" name="credential">
//     <p id="passkey-error" data-cancelled="…" data-exists="…" data-failed="…">
//     <button id="passkey-button" data-passkey-only hidden>
//
// Elements marked data-passkey-only stay hidden unless this browser can use
// a passkey; those marked data-passkey-fallback (why not) and
// data-passkey-other ("Use another method", shown again after a failure)
// show until then. On submit the script decodes the options' base64url fields,
// asks the browser (navigator.credentials.create or get), writes the answer
// as JSON (PublicKeyCredential.toJSON's shape, base64url fields) into the
// credential field and submits the form. The server decides everything else.
(function () {
  "use strict";

  if (typeof window.PublicKeyCredential !== "function" || !navigator.credentials) return;

  var each = function (sel, fn) { Array.prototype.forEach.call(document.querySelectorAll(sel), fn); };
  each("[data-passkey-only]", function (el) { el.hidden = false; });
  each("[data-passkey-fallback], [data-passkey-other]", function (el) { el.hidden = true; });
  each("details[data-passkey-close]", function (el) { el.open = false; });

  var form = document.querySelector("form[data-passkey]");
  if (!form) return;
  var create = form.getAttribute("data-passkey") === "create";
  var field = form.elements.namedItem("credential");
  var button = document.getElementById("passkey-button");
  var error = document.getElementById("passkey-error");
  var others = function () {
    each("[data-passkey-other]", function (el) { el.hidden = false; });
    each("details[data-passkey-close]", function (el) { el.open = true; });
  };
  if (!error.hidden) others(); // the server refused the last attempt
  // As the other pages focus the field to fill in: the button, where it is
  // the one thing to do or the thing to try again.
  if (form.hasAttribute("data-passkey-focus") || !error.hidden) button.focus();

  var decode = function (s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    var bin = atob(s + "===".slice((s.length + 3) % 4));
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  };
  var encode = function (buf) {
    if (!buf) return undefined;
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };

  // The answer in the shape of PublicKeyCredential.toJSON().
  var toJSON = function (cred) {
    var r = cred.response, out = {
      id: cred.id, rawId: encode(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: encode(r.clientDataJSON) }
    };
    if (create) {
      out.response.attestationObject = encode(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = encode(r.authenticatorData);
      out.response.signature = encode(r.signature);
      out.response.userHandle = encode(r.userHandle);
    }
    return out;
  };

  // A refusal in plain words, next to the button, with the other methods
  // shown again; focus stays on the button, so trying again is one press.
  var fail = function (err) {
    var name = err && err.name;
    var key = name === "NotAllowedError" || name === "AbortError" ? "cancelled"
      : name === "InvalidStateError" && create ? "exists" : "failed";
    error.textContent = error.getAttribute("data-" + key);
    error.hidden = false;
    others();
    button.disabled = false;
    button.focus();
  };

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var opts;
    try {
      opts = JSON.parse(form.getAttribute("data-passkey-options"));
      var pk = opts.publicKey;
      pk.challenge = decode(pk.challenge);
      if (pk.user) pk.user.id = decode(pk.user.id);
      (pk.excludeCredentials || []).concat(pk.allowCredentials || []).forEach(function (c) { c.id = decode(c.id); });
    } catch (e) {
      fail(e);
      return;
    }
    button.disabled = true;
    error.hidden = true;
    var call = create ? navigator.credentials.create(opts) : navigator.credentials.get(opts);
    call.then(function (cred) {
      if (!cred) throw new Error("no credential");
      field.value = JSON.stringify(toJSON(cred));
      form.submit(); // no submit event: this handler does not run again
    }).catch(fail);
  });
})();
