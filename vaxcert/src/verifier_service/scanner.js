// The scanner page of the verifier: camera frames, an uploaded picture or pasted HC1: text are verified
// on this device by the WebAssembly verifier (crate verifier-wasm) when the server has it, from the
// signed trust and revocation lists kept in localStorage (so it works offline); otherwise, or when
// "check on the server" is ticked, they are posted to /v1/verify. The answer is shown green or red with
// the holder and, on red, the reason in plain words.
"use strict";

(function () {
  var VERIFY_PATH = "/v1/verify";
  var FRAME_INTERVAL_MS = 300;

  // The WebAssembly verifier and what it verifies from: the signed lists and the key they are signed
  // with. The page trusts its own origin for the key, as it does for the code it runs.
  var WASM_SCRIPT = "/wasm/verifier_wasm.js";
  var WASM_MODULE = "/wasm/verifier_wasm_bg.wasm";
  var LIST_PATHS = ["/trust-list", "/revocation-list", "/trust-list-signer.pub.pem"];
  var WORKER = "/scanner-sw.js";
  var LISTS_KEY = "vaxcert.scanner.lists";
  var MODE_KEY = "vaxcert.scanner.mode";
  var REFRESH_MS = 5 * 60 * 1000;
  // Pictures and frames are scaled down to at most this many pixels before the code is searched for.
  var MAX_PICTURE_PIXELS = 8000000;
  var MAX_FRAME_PIXELS = 1000000;

  // Every report code of the verifier (verifier::Code), in Vietnamese and English.
  var REASONS = {
    "OK": ["Chứng nhận hợp lệ.", "The certificate is valid."],
    "E_IMAGE": ["Không tìm thấy mã QR trong ảnh, hoặc ảnh không đọc được.", "No QR code found in the picture, or the picture cannot be read."],
    "E_INPUT_TOO_LARGE": ["Nội dung dài hơn mức một mã QR có thể chứa.", "The text is longer than a QR code can hold."],
    "E_PREFIX": ["Đây không phải chứng nhận y tế (không bắt đầu bằng HC1:).", "This is not a health certificate (it does not start with HC1:)."],
    "E_BASE45": ["Mã bị hỏng hoặc sao chép không đầy đủ.", "The code is damaged or was copied incompletely."],
    "E_ZLIB": ["Dữ liệu nén của mã bị hỏng.", "The code's compressed data is damaged."],
    "E_DECOMPRESSED_TOO_LARGE": ["Dữ liệu quá lớn khi giải nén: không phải chứng nhận thật.", "The data is far too large once unpacked: not a genuine certificate."],
    "E_CBOR": ["Nội dung chứng nhận bị hỏng.", "The certificate's content is damaged."],
    "E_COSE_STRUCTURE": ["Cấu trúc chữ ký của chứng nhận không đúng.", "The certificate's signature structure is wrong."],
    "E_PROTECTED_HEADER": ["Phần đầu được ký của chứng nhận không hợp lệ.", "The certificate's signed header is invalid."],
    "E_ALG_MISSING": ["Chứng nhận không ghi thuật toán ký.", "The certificate does not say how it was signed."],
    "E_ALG_UNSUPPORTED": ["Chứng nhận được ký bằng thuật toán không được chấp nhận.", "The certificate was signed with an algorithm that is not accepted."],
    "E_KID_MISSING": ["Chứng nhận không ghi khóa ký.", "The certificate does not name its signing key."],
    "E_KID_UNKNOWN": ["Chứng nhận được ký bằng khóa không có trong danh sách tin cậy.", "The certificate was signed with a key that is not on the trust list."],
    "E_ALG_KEY_MISMATCH": ["Thuật toán ký không khớp với khóa của nơi cấp.", "The signing algorithm does not match the issuer's key."],
    "E_SIG_FORMAT": ["Chữ ký sai định dạng.", "The signature is malformed."],
    "E_SIG_INVALID": ["Chữ ký không khớp: chứng nhận đã bị sửa đổi hoặc làm giả.", "The signature does not match: the certificate was altered or forged."],
    "E_CWT_CLAIMS": ["Thiếu hoặc sai thông tin bắt buộc trong chứng nhận.", "Required information in the certificate is missing or wrong."],
    "E_REVOKED": ["Chứng nhận đã bị thu hồi.", "The certificate has been revoked."],
    "E_NOT_YET_VALID": ["Chứng nhận chưa có hiệu lực.", "The certificate is not valid yet."],
    "E_EXPIRED": ["Chứng nhận đã hết hạn.", "The certificate has expired."],
    "E_DSC_VALIDITY": ["Chứng nhận nằm ngoài thời hạn hiệu lực của khóa ký.", "The certificate falls outside the validity of its signing key."],
    "E_KEY_USAGE": ["Khóa ký không được phép ký loại chứng nhận này.", "The signing key may not sign this type of certificate."],
    "E_COUNTRY_MISMATCH": ["Quốc gia cấp không khớp với quốc gia của khóa ký.", "The issuing country does not match the signing key's country."],
    "E_SCHEMA": ["Nội dung chứng nhận không đúng mẫu quy định.", "The certificate's content does not follow the required format."],
    "E_TRUST_LIST_STALE": ["Danh sách tin cậy của máy kiểm tra đã quá cũ nên không thể xác nhận. Hãy báo người quản lý.", "This verifier's trust list is out of date, so nothing can be confirmed. Tell the operator."]
  };

  // Refusals of the service (HTTP status), when no report came back.
  var REFUSALS = {
    413: ["Ảnh hoặc nội dung quá lớn.", "The picture or text is too large."],
    415: ["Loại tệp không được hỗ trợ; hãy dùng ảnh PNG hoặc JPEG.", "This kind of file is not supported; use a PNG or JPEG picture."],
    429: ["Quá nhiều yêu cầu; hãy thử lại sau giây lát.", "Too many requests; try again in a moment."],
    503: ["Máy chủ đang bận; hãy thử lại.", "The server is busy; try again."]
  };
  var UNREACHABLE = ["Không kiểm tra được (lỗi kết nối hoặc máy chủ). Hãy thử lại.", "Could not check (connection or server error). Try again."];
  var DEVICE_FAILED = ["Không kiểm tra được trên thiết bị. Hãy thử kiểm tra trên máy chủ.", "Could not check on this device. Try checking on the server."];

  var TYPES = {
    "v": ["Tiêm chủng", "Vaccination"],
    "t": ["Xét nghiệm", "Test"],
    "r": ["Đã khỏi bệnh", "Recovery"]
  };

  var result, verdict, holder, holderName, holderDob, holderType, reason;
  var cameraButton, video, canvas, cameraStatus;
  var modeServer, modeStatus;
  var stream = null;
  var frameTimer = null;
  var frameInFlight = false;

  // The on-device verifier: the module once loaded, a Scanner over the lists in use, and their origin.
  var wasm = null;
  var scanner = null;
  var lists = null;
  var listsOffline = false;
  var deviceProblem = null;

  function bilingual(element, pair) {
    element.textContent = pair[0];
    var english = document.createElement("span");
    english.className = "en";
    english.lang = "en";
    english.textContent = pair[1];
    element.appendChild(english);
  }

  // Hides the holder and the reason, emptied, so nothing of an earlier scan can show with a new result.
  function clearHolder() {
    holder.hidden = true;
    holderName.textContent = "";
    holderDob.textContent = "";
    holderType.textContent = "";
  }

  function clearReason() {
    reason.hidden = true;
    reason.textContent = "";
  }

  function showPending() {
    result.className = "result pending";
    bilingual(verdict, ["Đang kiểm tra…", "Checking…"]);
    clearHolder();
    clearReason();
  }

  function showRefusal(pair) {
    result.className = "result invalid";
    bilingual(verdict, ["Không kiểm tra được", "Not checked"]);
    clearHolder();
    bilingual(reason, pair);
    reason.hidden = false;
    result.focus();
  }

  function showReport(report) {
    var valid = report.valid === true;
    result.className = valid ? "result valid" : "result invalid";
    bilingual(verdict, valid ? ["✔ HỢP LỆ", "VALID"] : ["✘ KHÔNG HỢP LỆ", "NOT VALID"]);
    var person = report.holder;
    clearHolder();
    clearReason();
    if (person) {
      var native = [person.fn, person.gn].filter(Boolean).join(" ");
      var standard = [person.fnt, person.gnt].filter(Boolean).join(" ");
      holderName.textContent = native;
      if (standard && standard !== native) {
        var line = document.createElement("span");
        line.className = "en";
        line.lang = "en";
        line.textContent = standard.replace(/</g, " ").replace(/\s+/g, " ").trim();
        holderName.appendChild(line);
      }
      holderDob.textContent = person.dob || "—";
      var kind = TYPES[report.type];
      if (kind) {
        bilingual(holderType, kind);
      } else {
        holderType.textContent = report.type || "—";
      }
      holder.hidden = false;
    }
    if (!valid) {
      bilingual(reason, REASONS[report.code] || ["Không hợp lệ (" + report.code + ").", "Not valid (" + report.code + ")."]);
      reason.hidden = false;
    }
    result.focus();
  }

  // Posts `body` as `type`; resolves to the report, or rejects with a bilingual reason.
  function post(body, type) {
    return fetch(VERIFY_PATH, {
      method: "POST",
      headers: { "Content-Type": type },
      body: body,
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer"
    }).then(function (response) {
      if (response.ok) {
        return response.json();
      }
      throw REFUSALS[response.status] || UNREACHABLE;
    }, function () {
      throw UNREACHABLE;
    });
  }

  function verify(body, type) {
    stopCamera();
    showPending();
    post(body, type).then(showReport, function (pair) {
      showRefusal(Array.isArray(pair) ? pair : UNREACHABLE);
    });
  }

  // ---- On the device --------------------------------------------------------------------------------

  function onDevice() {
    return scanner !== null && !modeServer.checked;
  }

  function now() {
    return Date.now() / 1000;
  }

  function bytes(text) {
    return new TextEncoder().encode(text);
  }

  // Runs one verification of the WebAssembly verifier and shows its report.
  function verifyOnDevice(run) {
    stopCamera();
    showPending();
    try {
      showReport(JSON.parse(run()));
    } catch (error) {
      showRefusal(DEVICE_FAILED);
    }
  }

  // The pixels of `source` (an image, a bitmap, the video) drawn at most `maxPixels` large.
  function pixels(source, width, height, maxPixels) {
    var scale = Math.min(1, Math.sqrt(maxPixels / Math.max(1, width * height)));
    canvas.width = Math.max(1, Math.round(width * scale));
    canvas.height = Math.max(1, Math.round(height * scale));
    var context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(source, 0, 0, canvas.width, canvas.height);
    var image = context.getImageData(0, 0, canvas.width, canvas.height);
    return { rgba: new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.length), width: image.width, height: image.height };
  }

  function verifyPictureOnDevice(file) {
    stopCamera();
    showPending();
    createImageBitmap(file).then(function (bitmap) {
      var frame = pixels(bitmap, bitmap.width, bitmap.height, MAX_PICTURE_PIXELS);
      if (bitmap.close) {
        bitmap.close();
      }
      verifyOnDevice(function () { return scanner.verifyImage(frame.rgba, frame.width, frame.height, now()); });
    }, function () {
      // Not a picture the browser can open: the server's answer for an unreadable picture.
      showReport({ valid: false, code: "E_IMAGE" });
    });
  }

  function setMode(mode, pair) {
    modeStatus.dataset.mode = mode;
    bilingual(modeStatus, pair);
  }

  function when(milliseconds) {
    return new Date(milliseconds).toLocaleString();
  }

  // Says where certificates are checked now, quietly.
  function showMode() {
    if (modeServer.checked) {
      setMode("server", ["Kiểm tra trên máy chủ: nội dung chứng nhận được gửi đến máy chủ.", "Checking on the server: the certificate's content is sent to the server."]);
    } else if (scanner) {
      var at = when(lists.fetchedAt);
      setMode("device", listsOffline
        ? ["Ngoại tuyến: kiểm tra trên thiết bị này bằng danh sách tin cậy đã lưu lúc " + at + ".", "Offline: checking on this device with the trust lists saved at " + at + "."]
        : ["Kiểm tra trên thiết bị này; danh sách tin cậy tải lúc " + at + ".", "Checking on this device; trust lists fetched at " + at + "."]);
    } else if (deviceProblem) {
      setMode("server", deviceProblem);
    } else {
      setMode("loading", ["Đang tải bộ kiểm tra trên thiết bị…", "Loading the on-device verifier…"]);
    }
  }

  function readLists() {
    try {
      var stored = JSON.parse(window.localStorage.getItem(LISTS_KEY));
      return stored && stored.trustList && stored.key ? stored : null;
    } catch (error) {
      return null;
    }
  }

  function saveLists(fetched) {
    try {
      window.localStorage.setItem(LISTS_KEY, JSON.stringify(fetched));
    } catch (error) {
      // Storage full or disabled: the lists still serve until the page is closed.
    }
  }

  function fetchText(path) {
    return fetch(path, { cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" }).then(function (response) {
      if (!response.ok) {
        throw new Error(path);
      }
      return response.text();
    });
  }

  // A Scanner over `candidate`; throws when the lists are refused (wrong key, expired).
  function useLists(candidate, offline) {
    var built = new wasm.Scanner(bytes(candidate.trustList), candidate.revocationList ? bytes(candidate.revocationList) : undefined, candidate.key, now());
    if (scanner) {
      scanner.free();
    }
    scanner = built;
    lists = candidate;
    listsOffline = offline;
  }

  // Fetches the lists and puts them in use; offline (or refused), keeps those in use, else the saved ones.
  function refreshLists() {
    return Promise.all(LIST_PATHS.map(fetchText)).then(function (texts) {
      var fetched = { trustList: texts[0], revocationList: texts[1], key: texts[2], fetchedAt: Date.now() };
      useLists(fetched, false);
      saveLists(fetched);
    }).catch(function () {
      var saved = readLists();
      if (saved && (!scanner || saved.fetchedAt > lists.fetchedAt)) {
        try {
          useLists(saved, true);
        } catch (error) {
          // The saved lists have expired: nothing can be verified on the device any more.
        }
      } else if (scanner) {
        listsOffline = true;
      }
      if (!scanner) {
        deviceProblem = ["Kiểm tra trên máy chủ (chưa tải được danh sách tin cậy để kiểm tra trên thiết bị).", "Checking on the server (the trust lists for checking on this device could not be loaded)."];
      }
    }).then(showMode);
  }

  function startDevice() {
    import(WASM_SCRIPT).then(function (module) {
      return module.default({ module_or_path: WASM_MODULE }).then(function () {
        wasm = module;
        return refreshLists();
      });
    }).catch(function () {
      deviceProblem = ["Kiểm tra trên máy chủ (trang này chưa có bộ kiểm tra trên thiết bị).", "Checking on the server (this page has no on-device verifier)."];
      showMode();
    });
    window.setInterval(function () {
      if (wasm && navigator.onLine !== false) {
        refreshLists();
      }
    }, REFRESH_MS);
    window.addEventListener("online", function () {
      if (wasm) {
        refreshLists();
      }
    });
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register(WORKER).catch(function () {
        // No service worker (plain HTTP on another host): the page still works while online.
      });
    }
  }

  function onMode() {
    try {
      window.localStorage.setItem(MODE_KEY, modeServer.checked ? "server" : "device");
    } catch (error) {
      // The choice holds for this visit only.
    }
    showMode();
  }

  // ---- The three inputs -----------------------------------------------------------------------------

  function imageType(file) {
    return file.type === "image/png" || file.type === "image/jpeg" ? file.type : "application/octet-stream";
  }

  function onUpload(event) {
    var file = event.target.files && event.target.files[0];
    if (file) {
      if (onDevice()) {
        verifyPictureOnDevice(file);
      } else {
        verify(file, imageType(file));
      }
      event.target.value = "";
    }
  }

  function onText(event) {
    event.preventDefault();
    var text = document.getElementById("text-input").value.trim();
    if (text) {
      if (onDevice()) {
        verifyOnDevice(function () { return scanner.verify(text, now()); });
      } else {
        verify(JSON.stringify({ hc1: text }), "application/json");
      }
    }
  }

  function setCameraButton(running) {
    bilingual(cameraButton, running
      ? ["Dừng máy ảnh", "Stop the camera"]
      : ["Quét bằng máy ảnh", "Scan with the camera"]);
    cameraButton.setAttribute("aria-pressed", running ? "true" : "false");
  }

  function stopCamera() {
    if (frameTimer !== null) {
      clearInterval(frameTimer);
      frameTimer = null;
    }
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
    }
    video.hidden = true;
    video.srcObject = null;
    cameraStatus.textContent = "";
    setCameraButton(false);
  }

  // A frame read on the device: shown once it holds a code.
  function scanFrameOnDevice() {
    var frame = pixels(video, video.videoWidth, video.videoHeight, MAX_FRAME_PIXELS);
    var report;
    try {
      report = JSON.parse(scanner.verifyImage(frame.rgba, frame.width, frame.height, now()));
    } catch (error) {
      return;
    }
    if (report.code !== "E_IMAGE") {
      stopCamera();
      showReport(report);
    }
  }

  function sendFrame() {
    if (frameInFlight || !stream || video.readyState < 2 || !video.videoWidth) {
      return;
    }
    if (onDevice()) {
      scanFrameOnDevice();
      return;
    }
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    frameInFlight = true;
    canvas.toBlob(function (blob) {
      if (!blob || !stream) {
        frameInFlight = false;
        return;
      }
      post(blob, "image/jpeg").then(function (report) {
        frameInFlight = false;
        // No QR code in this frame yet: keep looking.
        if (stream && report.code !== "E_IMAGE") {
          stopCamera();
          showReport(report);
        }
      }, function () {
        // A refused frame (rate limit, busy): the next one tries again.
        frameInFlight = false;
      });
    }, "image/jpeg", 0.85);
  }

  function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      bilingual(cameraStatus, ["Trình duyệt này không dùng được máy ảnh (cần HTTPS).", "This browser cannot use the camera here (HTTPS is needed)."]);
      return;
    }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (media) {
        stream = media;
        video.srcObject = media;
        video.hidden = false;
        setCameraButton(true);
        bilingual(cameraStatus, ["Hướng máy ảnh vào mã QR…", "Point the camera at the QR code…"]);
        return video.play();
      })
      .then(function () {
        frameTimer = setInterval(sendFrame, FRAME_INTERVAL_MS);
      })
      .catch(function () {
        stopCamera();
        bilingual(cameraStatus, ["Không mở được máy ảnh (chưa cho phép hoặc không có).", "Could not open the camera (not allowed or none found)."]);
      });
  }

  function onCamera() {
    if (stream) {
      stopCamera();
    } else {
      startCamera();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    result = document.getElementById("result");
    verdict = document.getElementById("verdict");
    holder = document.getElementById("holder");
    holderName = document.getElementById("holder-name");
    holderDob = document.getElementById("holder-dob");
    holderType = document.getElementById("holder-type");
    reason = document.getElementById("reason");
    cameraButton = document.getElementById("camera-button");
    video = document.getElementById("camera-video");
    canvas = document.getElementById("camera-canvas");
    cameraStatus = document.getElementById("camera-status");
    modeServer = document.getElementById("mode-server");
    modeStatus = document.getElementById("mode-status");
    try {
      modeServer.checked = window.localStorage.getItem(MODE_KEY) === "server";
    } catch (error) {
      modeServer.checked = false;
    }
    modeServer.addEventListener("change", onMode);
    showMode();
    startDevice();
    cameraButton.setAttribute("aria-pressed", "false");
    cameraButton.addEventListener("click", onCamera);
    document.getElementById("upload-input").addEventListener("change", onUpload);
    document.getElementById("text-form").addEventListener("submit", onText);
  });
})();
