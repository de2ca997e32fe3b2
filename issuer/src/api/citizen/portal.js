// The citizen portal page: ask for a one-time code with an identity document number and a date of
// birth, log in with the code, list the certificates of the account, download them. Everything goes to
// /citizen/v1/ on this origin; the session is an HttpOnly cookie the script never sees.
"use strict";

(function () {
  var API = "/citizen/v1";

  var STATUS = {
    "active": ["Đang hiệu lực", "Active"],
    "superseded": ["Đã được thay thế", "Superseded"],
    "revoked": ["Đã bị thu hồi", "Revoked"],
    "expired": ["Đã hết hạn", "Expired"]
  };

  var MESSAGES = {
    "sent": ["Nếu thông tin khớp, mã đã được gửi tới số điện thoại đã đăng ký.", "If the details match, a code was sent to the phone on record."],
    "wrong_code": ["Mã không đúng hoặc đã hết hạn.", "Wrong or expired code."],
    "locked": ["Nhập sai quá nhiều lần. Hãy thử lại sau 15 phút.", "Too many wrong codes. Try again in 15 minutes."],
    "rate_limited": ["Quá nhiều yêu cầu. Hãy thử lại sau.", "Too many requests. Try again later."],
    "invalid": ["Hãy kiểm tra số giấy tờ và ngày sinh (năm-tháng-ngày).", "Check the document number and the date of birth (year-month-day)."],
    "no_session": ["Phiên đăng nhập đã hết. Hãy đăng nhập lại.", "Your session ended. Log in again."],
    "empty": ["Chưa có chứng nhận nào.", "No certificates yet."],
    "failed": ["Không thực hiện được. Hãy thử lại.", "Something went wrong. Try again."]
  };

  var LABELS = {
    "holder": ["Họ tên", "Name"],
    "dob": ["Ngày sinh", "Date of birth"],
    "vaccine": ["Vắc xin", "Vaccine"],
    "dose": ["Mũi", "Dose"],
    "date": ["Ngày tiêm", "Date"],
    "country": ["Quốc gia", "Country"],
    "valid_until": ["Hiệu lực đến", "Valid until"],
    "id": ["Mã chứng nhận", "Certificate id"]
  };

  var DOWNLOADS = [
    ["certificate.pdf", "PDF (in)", "PDF (print)"],
    ["qr.png", "Ảnh QR", "QR picture"],
    ["qr.svg", "QR SVG", "QR SVG"],
    ["hc1.txt", "Mã văn bản", "Text code"]
  ];

  var identity = null;

  function $(id) { return document.getElementById(id); }

  function bilingual(element, pair) {
    element.textContent = pair[0];
    var english = document.createElement("span");
    english.className = "en";
    english.lang = "en";
    english.textContent = pair[1];
    element.appendChild(english);
  }

  function say(key, isError) {
    var message = $("message");
    bilingual(message, MESSAGES[key] || MESSAGES.failed);
    message.className = isError ? "message error" : "message";
  }

  function unsay() {
    var message = $("message");
    message.textContent = "";
    message.className = "message";
  }

  function show(step) {
    $("identity-step").hidden = step !== "identity";
    $("code-step").hidden = step !== "code";
    $("certificates").hidden = step !== "certificates";
  }

  function send(method, path, body) {
    var options = { method: method, credentials: "same-origin", headers: {} };
    if (body) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(API + path, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        return { status: response.status, json: json };
      });
    });
  }

  function errorKey(answer) {
    return (answer.json && answer.json.error) || "failed";
  }

  function requestCode(event) {
    event.preventDefault();
    identity = { id_number: $("id-number").value.trim(), dob: $("dob").value.trim() };
    send("POST", "/code", identity).then(function (answer) {
      if (answer.status === 202) {
        say("sent", false);
        show("code");
        $("code").focus();
      } else {
        say(errorKey(answer), true);
      }
    }, function () { say("failed", true); });
  }

  function logIn(event) {
    event.preventDefault();
    var body = { id_number: identity.id_number, dob: identity.dob, code: $("code").value.trim() };
    send("POST", "/session", body).then(function (answer) {
      if (answer.status === 200) {
        $("code").value = "";
        loadCertificates();
      } else {
        say(errorKey(answer), true);
      }
    }, function () { say("failed", true); });
  }

  function row(list, key, value) {
    var term = document.createElement("dt");
    bilingual(term, LABELS[key]);
    var definition = document.createElement("dd");
    definition.textContent = value;
    list.appendChild(term);
    list.appendChild(definition);
  }

  function card(certificate) {
    var item = document.createElement("li");
    item.className = "certificate";
    var heading = document.createElement("h3");
    var holder = certificate.holder || {};
    heading.textContent = [holder.fn, holder.gn].filter(Boolean).join(" ");
    item.appendChild(heading);
    var status = document.createElement("span");
    status.className = "status " + certificate.status;
    var words = STATUS[certificate.status] || [certificate.status, certificate.status];
    status.textContent = words[0] + " · " + words[1];
    item.appendChild(status);

    var details = document.createElement("dl");
    var vaccination = certificate.vaccination || {};
    row(details, "dob", holder.dob || "");
    row(details, "vaccine", vaccination.product || vaccination.mp || "");
    row(details, "dose", vaccination.dn + "/" + vaccination.sd);
    row(details, "date", vaccination.dt || "");
    row(details, "country", vaccination.co || "");
    row(details, "valid_until", new Date(certificate.exp * 1000).toISOString().slice(0, 10));
    row(details, "id", certificate.uvci || "");
    item.appendChild(details);

    var downloads = document.createElement("div");
    downloads.className = "downloads";
    DOWNLOADS.forEach(function (download) {
      var link = document.createElement("a");
      link.href = API + "/certificates/" + encodeURIComponent(certificate.id) + "/" + download[0];
      link.setAttribute("download", "");
      link.className = "download-" + download[0].replace(".", "-");
      link.textContent = download[1] === download[2] ? download[1] : download[1] + " · " + download[2];
      downloads.appendChild(link);
    });
    item.appendChild(downloads);
    return item;
  }

  function loadCertificates() {
    send("GET", "/certificates").then(function (answer) {
      if (answer.status !== 200) {
        show("identity");
        say(errorKey(answer), answer.status !== 401);
        return;
      }
      var list = $("certificate-list");
      list.textContent = "";
      var certificates = answer.json.certificates || [];
      certificates.forEach(function (certificate) { list.appendChild(card(certificate)); });
      unsay();
      if (certificates.length === 0) { say("empty", false); }
      show("certificates");
      $("certificates-heading").focus();
    }, function () { say("failed", true); });
  }

  function logOut() {
    send("DELETE", "/session").then(function () {
      $("certificate-list").textContent = "";
      show("identity");
      unsay();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("certificates-heading").tabIndex = -1;
    $("code-form").addEventListener("submit", requestCode);
    $("session-form").addEventListener("submit", logIn);
    $("back-button").addEventListener("click", function () { show("identity"); unsay(); });
    $("logout-button").addEventListener("click", logOut);
    // A session may still be open (a reload): show the list straight away if so.
    send("GET", "/certificates").then(function (answer) {
      if (answer.status === 200) { loadCertificates(); }
    });
  });
})();
