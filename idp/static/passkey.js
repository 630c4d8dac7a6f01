// Renkei passkeys: the browser side of WebAuthn for a form marked `data-passkey` (its value is
// the URL of the options). On submit the script asks the server for a ceremony's options,
// asks the device's authenticator (create a passkey, or sign in with one), puts the answer in
// the form's `ceremony` and `credential` fields and submits the form to the server, which
// checks it. Without WebAuthn in the browser the form stays hidden, and a page where only a
// passkey will do says so.
"use strict";

(function () {
  const toBytes = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  };
  const toText = (buffer) => {
    if (!buffer) return null;
    let binary = "";
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };
  const withIds = (list) => (list || []).map((c) => Object.assign({}, c, { id: toBytes(c.id) }));
  // The credential as webauthn-rs reads it, with the ceremony's own `response` fields.
  const described = (credential, response) => ({
    id: credential.id,
    rawId: toText(credential.rawId),
    type: credential.type,
    response,
    extensions: credential.getClientExtensionResults(),
  });

  // A new passkey: the server's creation options in, webauthn-rs's JSON form of the answer out.
  async function create(options) {
    options.challenge = toBytes(options.challenge);
    options.user = Object.assign({}, options.user, { id: toBytes(options.user.id) });
    options.excludeCredentials = withIds(options.excludeCredentials);
    const credential = await navigator.credentials.create({ publicKey: options });
    const response = credential.response;
    return described(credential, {
      attestationObject: toText(response.attestationObject),
      clientDataJSON: toText(response.clientDataJSON),
      transports: response.getTransports ? response.getTransports() : undefined,
    });
  }

  // A sign-in: the server's request options in, the signed assertion out.
  async function get(options) {
    options.challenge = toBytes(options.challenge);
    options.allowCredentials = withIds(options.allowCredentials);
    const credential = await navigator.credentials.get({ publicKey: options });
    const response = credential.response;
    return described(credential, {
      authenticatorData: toText(response.authenticatorData),
      clientDataJSON: toText(response.clientDataJSON),
      signature: toText(response.signature),
      userHandle: toText(response.userHandle),
    });
  }

  // An enrolment link's secret comes in the URL's fragment, which no request line carries:
  // the form takes it into its body, and the address bar forgets it.
  for (const field of document.querySelectorAll("input[data-from-fragment]")) {
    if (location.hash.length > 1) {
      // Our secrets are base64url: taken as they are (nothing to decode).
      field.value = location.hash.slice(1);
      history.replaceState(null, "", location.pathname + location.search);
    }
    // The language toggle keeps the link working on the page it opens.
    if (field.value) {
      for (const toggle of document.querySelectorAll("a.toggle")) {
        toggle.href = toggle.href.split("#")[0] + "#" + field.value;
      }
    }
  }

  const error = document.querySelector("[data-passkey-error]");
  // Where only a passkey will do, a browser without WebAuthn is told so (else nothing shows).
  const unsupported = document.querySelector("[data-passkey-unsupported]");
  if (unsupported && (!window.PublicKeyCredential || !navigator.credentials)) {
    unsupported.hidden = false;
  }
  for (const form of document.querySelectorAll("form[data-passkey]")) {
    if (!window.PublicKeyCredential || !navigator.credentials) continue;
    form.hidden = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      if (error) error.hidden = true;
      try {
        // A form with a link's secret sends it for the options too.
        const body = form.elements.token
          ? new URLSearchParams({ token: form.elements.token.value })
          : undefined;
        const answer = await fetch(form.dataset.passkey, {
          method: "POST",
          credentials: "same-origin",
          headers: { "X-CSRF-Token": form.elements.csrf_token.value },
          body,
        });
        if (!answer.ok) throw new Error("options: HTTP " + answer.status);
        const ceremony = await answer.json();
        const options = ceremony.publicKey;
        const credential = options.user ? await create(options) : await get(options);
        form.elements.ceremony.value = ceremony.ceremony;
        form.elements.credential.value = JSON.stringify(credential);
        form.submit();
      } catch (failure) {
        console.warn("passkey:", failure);
        if (error) error.hidden = false;
        button.disabled = false;
      }
    });
  }
})();
