// Renkei sign-in cards: reads a card's QR code with the tablet's camera (the browser's
// BarcodeDetector where it has one, the vendored jsQR otherwise) and submits its code with the
// form. A card's QR code holds `<issuer>/login/card#<code>`: the code is what follows `#`, so
// a card opened by the device's own camera app fills the form from the address's fragment,
// which no request line carries. Without a camera the typed code still works.
"use strict";

(function () {
  const form = document.querySelector("form[data-card]");
  if (!form) return;
  const field = form.elements.code;
  const codeOf = (text) => (text.includes("#") ? text.slice(text.indexOf("#") + 1) : text).trim();
  const submit = (text) => {
    field.value = codeOf(text);
    form.submit();
  };
  // Opened from the card itself: the code is in the fragment; the address bar forgets it.
  // The form goes at once only when the page was not opened from another site (the server
  // says so); otherwise the code waits for the pupil's tap on the button.
  if (location.hash.length > 1 && !field.value) {
    const code = location.hash.slice(1);
    history.replaceState(null, "", location.pathname + location.search);
    if (form.hasAttribute("data-card-autosubmit")) {
      submit(code);
      return;
    }
    field.value = codeOf(code);
  }
  const start = document.querySelector("[data-card-camera]");
  const video = document.querySelector("video[data-card-video]");
  const unavailable = document.querySelector("[data-card-unavailable]");
  if (!start || !video || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    if (unavailable) unavailable.hidden = false;
    return;
  }
  start.hidden = false;
  start.addEventListener("click", async () => {
    start.disabled = true;
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (failure) {
      console.warn("card camera:", failure);
      if (unavailable) unavailable.hidden = false;
      start.disabled = false;
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    const detector = "BarcodeDetector" in window ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
    const canvas = document.createElement("canvas");
    const context = canvas.getContext("2d", { willReadFrequently: true });
    const read = async () => {
      if (!video.videoWidth) return null;
      if (detector) {
        const found = await detector.detect(video);
        return found.length ? found[0].rawValue : null;
      }
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      context.drawImage(video, 0, 0);
      const image = context.getImageData(0, 0, canvas.width, canvas.height);
      const found = window.jsQR ? window.jsQR(image.data, image.width, image.height) : null;
      return found ? found.data : null;
    };
    const scan = async () => {
      const text = await read().catch(() => null);
      if (text && text.includes("/login/card#")) {
        stream.getTracks().forEach((track) => track.stop());
        submit(text);
        return;
      }
      requestAnimationFrame(scan);
    };
    scan();
  });
})();
