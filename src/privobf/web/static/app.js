// privobf web page: upload a photo, show what it reveals, download a protected copy.
// Plain JavaScript, no framework, no network access other than this page's own server.
"use strict";

(function () {
  const DEFAULT_STRENGTH = { blur: 0.1, pixelate: 0.2 };
  const OVERLAY_DELAY_MS = 150;

  const state = {
    scan: null, // the last /api/scan answer
    limits: null,
    overlayUrl: null,
    beforeUrl: null,
    resultUrl: null,
    overlayTimer: null,
    overlayRequest: 0,
    busy: false,
  };

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------------------------------ messages

  function showError(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = false;
  }

  function clearError() {
    $("error").hidden = true;
    $("error").textContent = "";
  }

  function setStatus(message) {
    $("status").textContent = message;
  }

  async function errorMessage(response) {
    // The server answers errors as {"error": "one line"}; anything else gets its HTTP status.
    try {
      const body = await response.json();
      if (body && typeof body.error === "string") return body.error;
    } catch (ignored) {
      // not JSON
    }
    return `the server answered ${response.status} ${response.statusText}`.trim();
  }

  function formatBytes(bytes) {
    const rounded = (value) => String(Number(value.toFixed(1)));
    return bytes >= 1e6 ? `${rounded(bytes / 1e6)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} kB`;
  }

  function percent(probability) {
    return `${Math.round(probability * 100)}%`;
  }

  // ------------------------------------------------------------------------------------------ upload

  async function loadLimits() {
    try {
      const response = await fetch("/api/limits", { cache: "no-store" });
      if (!response.ok) return;
      state.limits = await response.json();
      const megapixels = Math.round(state.limits.max_pixels / 1e6);
      $("limits-hint").textContent =
        `JPEG, PNG, WebP, TIFF, GIF or BMP, up to ${formatBytes(state.limits.max_upload_bytes)} and ${megapixels} megapixels.`;
      if (state.limits.text_note) $("text-note").textContent = state.limits.text_note;
    } catch (ignored) {
      // the limits are a convenience; the server enforces them anyway
    }
  }

  async function uploadFile(file) {
    if (!file || state.busy) return;
    clearError();
    if (state.limits && file.size > state.limits.max_upload_bytes) {
      showError(`${file.name}: ${formatBytes(file.size)} is larger than the ` +
        `${formatBytes(state.limits.max_upload_bytes)} upload limit`);
      return;
    }
    setBusy(true);
    setStatus(`Scanning ${file.name}…`);
    const form = new FormData();
    form.append("file", file, file.name);
    try {
      const response = await fetch("/api/scan", { method: "POST", body: form });
      if (!response.ok) {
        showError(await errorMessage(response));
        setStatus("");
        return;
      }
      showScan(await response.json());
      setStatus(`Scanned ${state.scan.file_name}.`);
    } catch (error) {
      showError(`${file.name}: the upload failed (${error.message}); is privobf serve still running?`);
      setStatus("");
    } finally {
      setBusy(false);
    }
  }

  function setBusy(busy) {
    state.busy = busy;
    $("hide-button").disabled = busy;
    $("file-input").disabled = busy;
    document.body.classList.toggle("busy", busy);
  }

  // ------------------------------------------------------------------------------------------ results

  function showScan(scan) {
    state.scan = scan;
    $("file-name").textContent = scan.file_name;
    $("score").textContent = scan.privacy_score.toFixed(2);
    $("score-meter").value = scan.privacy_score;
    $("level").textContent = scan.privacy_level_text;
    $("level").className = `level level-${scan.privacy_level}`;
    const overlay = $("overlay");
    overlay.width = scan.overlay_size.width;
    overlay.height = scan.overlay_size.height;
    fillAttributeLists(scan);
    showMetadataNote(scan.metadata);
    $("result").hidden = true;
    $("results").hidden = false;
    $("protect").hidden = false;
    refreshOverlay(true);
    loadBefore();
  }

  function fillAttributeLists(scan) {
    const found = $("found-list");
    const other = $("other-list");
    found.replaceChildren();
    other.replaceChildren();
    for (const attribute of scan.attributes) {
      (attribute.present ? found : other).append(attributeItem(attribute));
    }
    $("nothing-found").hidden = scan.present.length > 0;
    const others = scan.attributes.length - scan.present.length;
    $("more-summary").textContent = `${others} other attribute${others === 1 ? "" : "s"} (probably not in this photo)`;
    $("more-attributes").hidden = others === 0;
    $("more-attributes").open = false;
  }

  function attributeItem(attribute) {
    const item = document.createElement("li");
    const id = `attr-${attribute.id}`;
    const box = document.createElement("input");
    box.type = "checkbox";
    box.id = id;
    box.value = attribute.id;
    box.checked = attribute.present;
    box.addEventListener("change", () => refreshOverlay(false));
    const label = document.createElement("label");
    label.htmlFor = id;
    const name = document.createElement("span");
    name.className = "attribute-name";
    name.textContent = attribute.description;
    label.append(name);
    if (attribute.is_text) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = "text";
      badge.title = "Always filled solid";
      label.append(" ", badge);
    }
    const meter = document.createElement("meter");
    meter.min = 0;
    meter.max = 1;
    meter.value = attribute.probability;
    meter.setAttribute("aria-label", `probability of ${attribute.description}`);
    const probability = document.createElement("span");
    probability.className = "probability";
    probability.textContent = percent(attribute.probability);
    item.append(box, label, meter, probability);
    return item;
  }

  function showMetadataNote(metadata) {
    const note = $("metadata-note");
    if (!metadata || !metadata.exif) {
      note.hidden = true;
      return;
    }
    const identifying = metadata.identifying || [];
    note.textContent = identifying.length
      ? `This photo's metadata includes ${identifying.join(", ")}. The download never contains it.`
      : "This photo carries technical metadata (EXIF). The download contains none unless you keep it below.";
    note.hidden = false;
  }

  function tickedIds() {
    return Array.from(document.querySelectorAll(".attribute-list input[type=checkbox]:checked"), (box) => box.value);
  }

  // ------------------------------------------------------------------------------------------ images

  function refreshOverlay(now) {
    clearTimeout(state.overlayTimer);
    state.overlayTimer = setTimeout(loadOverlay, now ? 0 : OVERLAY_DELAY_MS);
  }

  async function loadOverlay() {
    if (!state.scan) return;
    const request = ++state.overlayRequest;
    const url = `${state.scan.overlay_url}?attributes=${encodeURIComponent(tickedIds().join(","))}`;
    const blob = await fetchImage(url);
    if (!blob || request !== state.overlayRequest) return; // a newer request is on its way
    state.overlayUrl = replaceObjectUrl(state.overlayUrl, blob);
    $("overlay").src = state.overlayUrl;
  }

  async function loadBefore() {
    const blob = await fetchImage(`${state.scan.overlay_url}?attributes=`);
    if (blob) state.beforeUrl = replaceObjectUrl(state.beforeUrl, blob);
  }

  async function fetchImage(url) {
    try {
      const response = await fetch(url, { cache: "no-store" });
      if (!response.ok) {
        showError(await errorMessage(response));
        return null;
      }
      return await response.blob();
    } catch (error) {
      showError(`could not load the picture (${error.message}); is privobf serve still running?`);
      return null;
    }
  }

  function replaceObjectUrl(previous, blob) {
    if (previous) URL.revokeObjectURL(previous);
    return URL.createObjectURL(blob);
  }

  // ------------------------------------------------------------------------------------------ hiding

  function updateModeOptions() {
    const mode = $("mode").value;
    const adjustable = mode in DEFAULT_STRENGTH;
    $("strength-row").hidden = !adjustable;
    if (adjustable) {
      $("strength").value = DEFAULT_STRENGTH[mode];
      showStrength();
    }
    const maskOnly = mode === "mask-only";
    $("format-row").hidden = maskOnly;
    $("metadata-row").hidden = maskOnly;
  }

  function showStrength() {
    $("strength-value").textContent = Number($("strength").value).toFixed(2);
  }

  function downloadNameFrom(response, fallback) {
    const header = response.headers.get("Content-Disposition") || "";
    const exact = /filename\*=UTF-8''([^;]+)/i.exec(header);
    if (exact) {
      try {
        return decodeURIComponent(exact[1]);
      } catch (ignored) {
        // fall through to the plain name
      }
    }
    const plain = /filename="([^"]+)"/i.exec(header);
    return plain ? plain[1] : fallback;
  }

  async function hideAndDownload() {
    if (!state.scan || state.busy) return;
    clearError();
    const mode = $("mode").value;
    const options = {
      token: state.scan.token,
      hide: tickedIds(),
      mode: mode,
      format: $("format").value,
      keep_metadata: $("keep-metadata").checked,
    };
    if (mode in DEFAULT_STRENGTH) options.strength = Number($("strength").value);
    setBusy(true);
    $("hide-status").textContent = "Hiding…";
    try {
      const response = await fetch("/api/obfuscate", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(options),
      });
      if (!response.ok) {
        showError(await errorMessage(response));
        $("hide-status").textContent = "";
        return;
      }
      const name = downloadNameFrom(response, "photo.privobf.png");
      const hidden = response.headers.get("X-Privobf-Hidden") || "";
      offerResult(await response.blob(), name, hidden);
      $("hide-status").textContent = `Downloaded ${name}.`;
    } catch (error) {
      showError(`hiding failed (${error.message}); is privobf serve still running?`);
      $("hide-status").textContent = "";
    } finally {
      setBusy(false);
    }
  }

  function offerResult(blob, name, hidden) {
    state.resultUrl = replaceObjectUrl(state.resultUrl, blob);
    const link = $("download-link");
    link.href = state.resultUrl;
    link.download = name;
    $("after").src = state.resultUrl;
    if (state.beforeUrl) $("before").src = state.beforeUrl;
    const count = hidden ? hidden.split(",").length : 0;
    $("result-status").textContent = count
      ? `Hid ${count} attribute${count === 1 ? "" : "s"}. Check the result before sharing it.`
      : "Nothing was hidden (no attribute ticked); the download only drops the metadata.";
    $("result").hidden = false;
    link.click(); // start the download; the link stays for a second copy
  }

  // ------------------------------------------------------------------------------------------ wiring

  function wireDropZone() {
    const zone = $("drop-zone");
    for (const name of ["dragenter", "dragover"]) {
      zone.addEventListener(name, (event) => {
        event.preventDefault();
        zone.classList.add("dragging");
      });
    }
    for (const name of ["dragleave", "drop"]) {
      zone.addEventListener(name, () => zone.classList.remove("dragging"));
    }
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      const file = event.dataTransfer && event.dataTransfer.files[0];
      if (file) uploadFile(file);
    });
    // A photo dropped beside the zone must not make the browser leave the page to show it.
    window.addEventListener("dragover", (event) => event.preventDefault());
    window.addEventListener("drop", (event) => event.preventDefault());
  }

  function start() {
    $("file-input").addEventListener("change", (event) => {
      const file = event.target.files[0];
      if (file) uploadFile(file);
      event.target.value = ""; // choosing the same file again scans it again
    });
    $("mode").addEventListener("change", updateModeOptions);
    $("strength").addEventListener("input", showStrength);
    $("hide-button").addEventListener("click", hideAndDownload);
    wireDropZone();
    updateModeOptions();
    loadLimits();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
