// The intake registration page: a phone verified by a one-time code, then the people registered under
// it (with a cancel button each, and their invitation when they have one: its booking code, to confirm or
// to cancel) and a form to register one more. Everything goes to /intake/v1/ on
// this origin; the session is an HttpOnly cookie the script never sees. The checks here only catch
// obvious typing mistakes: the server decides, and its 422 answer names the field shown in error.
"use strict";

(function () {
  var API = "/intake/v1";

  var STATUS = {
    "waiting": ["Đang chờ", "Waiting"],
    "invited": ["Đã được mời tiêm", "Invited"],
    "completed": ["Đã tiêm", "Completed"],
    "cancelled": ["Đã hủy", "Cancelled"],
    "refused": ["Không đủ điều kiện", "Refused"]
  };

  var MESSAGES = {
    "sent": ["Mã đã được gửi qua tin nhắn tới số này.", "A code was sent by text message to this number."],
    "too_soon": ["Chưa gửi được mã mới. Hãy đợi một lúc rồi thử lại.", "No new code yet. Wait a little and try again."],
    "locked": ["Nhập sai quá nhiều lần. Hãy thử lại sau.", "Too many wrong codes. Try again later."],
    "no_session": ["Phiên đăng nhập đã hết. Hãy đăng nhập lại.", "Your session ended. Log in again."],
    "registered": ["Đã đăng ký. Bạn sẽ nhận tin nhắn khi được mời tiêm.", "Registered. A text message will say when you are invited."],
    "cancelled": ["Đã hủy đăng ký.", "The registration was cancelled."],
    "confirm_cancel": ["Bấm nút hủy lần nữa để xác nhận.", "Press the cancel button again to confirm."],
    "empty": ["Chưa có ai được đăng ký với số này.", "Nobody is registered under this phone yet."],
    "fix": ["Hãy sửa các mục được đánh dấu.", "Please correct the marked items."],
    "conflict": ["Không đăng ký được: giấy tờ này đã được đăng ký, hoặc số điện thoại đã đủ số người.", "Not registered: this document is registered already, or this phone has its maximum of people."],
    "appointment_confirmed": ["Đã xác nhận lịch hẹn. Hãy mang mã đặt lịch khi đến tiêm.", "The appointment is confirmed. Bring the booking code to the site."],
    "appointment_cancelled": ["Đã hủy lịch hẹn. Người này vẫn trong danh sách chờ và sẽ được mời lại.", "The appointment was cancelled. This person stays on the waiting list and will be invited again."],
    "confirm_cancel_appointment": ["Bấm nút hủy lịch hẹn lần nữa để xác nhận. Người này vẫn trong danh sách chờ và sẽ được mời lại.", "Press the cancel button again to confirm. This person stays on the waiting list and will be invited again."],
    "appointment_gone": ["Không tìm thấy lịch hẹn này. Danh sách đã được tải lại.", "This appointment was not found. The list was reloaded."],
    "appointment_closed": ["Lịch hẹn này không còn xác nhận hay hủy được nữa. Danh sách đã được tải lại.", "This appointment can no longer be confirmed or cancelled. The list was reloaded."],
    "appointments_failed": ["Không tải được lịch hẹn tiêm. Hãy tải lại trang.", "Could not load the appointments. Reload the page."],
    "setup": ["Không tải được nhóm ưu tiên hoặc điểm tiêm. Hãy tải lại trang.", "Could not load the priority groups or the sites. Reload the page."],
    "failed": ["Không thực hiện được. Hãy thử lại.", "Something went wrong. Try again."]
  };

  var LABELS = {
    "dob": ["Ngày sinh", "Date of birth"],
    "declared_group": ["Nhóm đã khai", "Group declared"],
    "priority_group": ["Nhóm được xếp", "Group assigned"],
    "site": ["Điểm tiêm", "Site"],
    "date": ["Ngày mong muốn", "Preferred date"],
    "policy": ["Chính sách", "Policy"],
    "id": ["Mã đăng ký", "Registration id"],
    "when": ["Thời gian", "When"],
    "dose": ["Mũi tiêm", "Dose"],
    "product": ["Vắc xin", "Vaccine"],
    "appointment_status": ["Trạng thái", "Status"]
  };

  // An appointment's status, as its box says it (only live ones are shown).
  var APPOINTMENT_STATUS = {
    "invited": ["Đã được mời, chưa xác nhận", "Invited, not yet confirmed"],
    "confirmed": ["Đã xác nhận", "Confirmed"]
  };

  var SESSIONS = {
    "morning": ["Buổi sáng", "morning"],
    "afternoon": ["Buổi chiều", "afternoon"]
  };

  var WEEKDAYS = [["Chủ nhật", "Sunday"], ["Thứ Hai", "Monday"], ["Thứ Ba", "Tuesday"], ["Thứ Tư", "Wednesday"],
    ["Thứ Năm", "Thursday"], ["Thứ Sáu", "Friday"], ["Thứ Bảy", "Saturday"]];

  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December"];

  // What each field of the request is, by its JSON path: the element showing it (an input, a select, or
  // a fieldset of radio buttons) and what to say when it is wrong.
  var FIELDS = {
    "phone": ["phone", ["Nhập số điện thoại di động, ví dụ 0912345678.", "Enter a mobile phone number, e.g. 0912345678."]],
    "code": ["code", ["Nhập đúng 6 số trong tin nhắn.", "Enter the 6 digits from the text message."]],
    "full_name": ["full-name", ["Nhập họ và tên.", "Enter the full name."]],
    "dob": ["dob", ["Nhập ngày sinh dạng năm-tháng-ngày, ví dụ 1980-12-31.", "Enter the date of birth as year-month-day, e.g. 1980-12-31."]],
    "sex": ["sex", ["Chọn giới tính.", "Choose the sex."]],
    "id_kind": ["id-kind", ["Chọn loại giấy tờ.", "Choose the kind of document."]],
    "id_number": ["id-number", ["Số giấy tờ chưa đúng với loại giấy tờ đã chọn.", "The number does not fit the kind of document."]],
    "occupation": ["occupation", ["Nhập nghề nghiệp.", "Enter the occupation."]],
    "address": ["province-code", ["Kiểm tra lại địa chỉ.", "Check the address."]],
    "address.admin_scheme": ["admin-scheme", ["Chọn bản đồ hành chính.", "Choose the administrative map."]],
    "address.province_code": ["province-code", ["Mã tỉnh gồm 2 chữ số.", "A province code is 2 digits."]],
    "address.commune_code": ["commune-code", ["Mã xã, phường gồm 5 chữ số.", "A commune code is 5 digits."]],
    "priority_group": ["priority-group", ["Chọn nhóm ưu tiên.", "Choose a priority group."]],
    "preferred_site": ["preferred-site", ["Chọn điểm tiêm.", "Choose a site."]],
    "preferred_date": ["preferred-date", ["Ngày mong muốn dạng năm-tháng-ngày, từ hôm nay trở đi.", "The preferred date as year-month-day, today or later."]],
    "health_insurance": ["health-insurance", ["Kiểm tra lại số thẻ bảo hiểm y tế.", "Check the health-insurance number."]],
    "ethnicity": ["ethnicity", ["Kiểm tra lại dân tộc.", "Check the ethnicity."]],
    "nationality": ["nationality", ["Kiểm tra lại quốc tịch.", "Check the nationality."]],
    "consent": ["consent", ["Cần đồng ý để đăng ký.", "Consent is needed to register."]]
  };

  var MEDICAL = ["severe_allergy", "previous_dose_reaction", "immunodeficiency_or_chemotherapy", "pregnant",
    "acute_illness", "chronic_disease", "bleeding_disorder_or_anticoagulants", "covid_last_6_months"];
  MEDICAL.forEach(function (item) {
    FIELDS["medical_history." + item] = ["mh-" + item.replace(/_/g, "-"),
      ["Chọn Có, Không hoặc Không rõ.", "Choose Yes, No or Don't know."]];
  });

  var ID_RULES = {
    "citizen_id": [/^\d{12}$/, ["Số căn cước công dân gồm đúng 12 chữ số.", "A citizen ID is exactly 12 digits."]],
    "old_id": [/^\d{9}$/, ["Số chứng minh nhân dân gồm đúng 9 chữ số.", "An old ID card number is exactly 9 digits."]],
    "passport": [/^[A-Za-z0-9]{5,20}$/, ["Số hộ chiếu chỉ gồm chữ cái và chữ số.", "A passport number is letters and digits only."]]
  };

  var policy = null;
  var sites = [];
  var people = [];
  var appointments = [];

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
    $("phone-step").hidden = step !== "phone";
    $("code-step").hidden = step !== "code";
    $("people-step").hidden = step !== "people";
  }

  function send(method, path, body) {
    var options = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
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

  // --- Field errors -------------------------------------------------------------------------------

  // The element to focus for a field: the input itself, or the checked (else first) radio of a group.
  function focusable(element) {
    if (element.tagName !== "FIELDSET") { return element; }
    return element.querySelector("input:checked") || element.querySelector("input");
  }

  function markField(path, pair) {
    var field = FIELDS[path];
    var element = field && $(field[0]);
    if (!element) { return null; }
    bilingual($(field[0] + "-error"), pair || field[1]);
    element.setAttribute("aria-invalid", "true");
    return element;
  }

  function clearField(id) {
    var element = $(id);
    var error = $(id + "-error");
    if (element) { element.removeAttribute("aria-invalid"); }
    if (error) { error.textContent = ""; }
  }

  function clearForm() {
    Object.keys(FIELDS).forEach(function (path) { clearField(FIELDS[path][0]); });
    $("form-message").textContent = "";
    $("form-banner").hidden = true;
    $("form-banner").textContent = "";
  }

  // The error shown for a 422 answer: ours for the field in Vietnamese, the server's own words after it.
  function serverPair(path, json) {
    var field = FIELDS[path];
    var ours = field ? field[1] : MESSAGES.failed;
    return ["Mục này chưa được chấp nhận. " + ours[0], (json && json.error) || ours[1]];
  }

  // The field of ours a server's JSON path names: itself, else its nearest parent ("address.x" → "address").
  function knownField(path) {
    while (path && !FIELDS[path]) {
      path = path.indexOf(".") < 0 ? "" : path.slice(0, path.lastIndexOf("."));
    }
    return path || null;
  }

  // Shows `errors` ([path, pair] each) at their fields, announces them and focuses the first.
  function showErrors(errors) {
    var first = null;
    errors.forEach(function (error) {
      var element = markField(error[0], error[1]);
      if (!first && element) { first = element; }
    });
    var summary = $("form-message");
    var firstPair = errors.length > 0 ? errors[0][1] : MESSAGES.failed;
    bilingual(summary, [MESSAGES.fix[0] + " " + firstPair[0], MESSAGES.fix[1] + " " + firstPair[1]]);
    summary.className = "message error";
    if (first) { focusable(first).focus(); }
  }

  function showBanner(pair) {
    var banner = $("form-banner");
    bilingual(banner, pair);
    banner.hidden = false;
    banner.focus();
  }

  // --- Client-side checks: obvious format mistakes only --------------------------------------------

  function isDay(text) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) { return false; }
    var day = new Date(text + "T00:00:00Z");
    return !isNaN(day.getTime()) && day.toISOString().slice(0, 10) === text;
  }

  function today() {
    var now = new Date();
    var month = String(now.getMonth() + 1);
    var day = String(now.getDate());
    return now.getFullYear() + "-" + (month.length < 2 ? "0" : "") + month + "-" + (day.length < 2 ? "0" : "") + day;
  }

  // Whole years between the day `dob` and `on`, both YYYY-MM-DD.
  function age(dob, on) {
    var years = Number(on.slice(0, 4)) - Number(dob.slice(0, 4));
    return on.slice(5) < dob.slice(5) ? years - 1 : years;
  }

  // The number as typed, without spaces or punctuation; a national number (0912…) in E.164 (+84912…).
  function phoneNumber() {
    var phone = $("phone").value.replace(/[\s.()-]/g, "");
    if (/^0\d{9}$/.test(phone)) { return "+84" + phone.slice(1); }
    if (/^84\d{9}$/.test(phone)) { return "+" + phone; }
    return phone;
  }

  function checked(name) {
    var input = document.querySelector("#register-form input[name=\"" + name + "\"]:checked");
    return input ? input.value : null;
  }

  function optional(id) {
    var text = $(id).value.trim();
    return text === "" ? null : text;
  }

  function formBody() {
    var history = {};
    MEDICAL.forEach(function (item) { history[item] = checked(item); });
    return {
      full_name: $("full-name").value.trim().replace(/\s+/g, " "),
      dob: $("dob").value.trim(),
      sex: checked("sex"),
      id_kind: $("id-kind").value,
      id_number: $("id-number").value.replace(/\s/g, ""),
      occupation: $("occupation").value.trim(),
      address: {
        province_code: $("province-code").value.trim(),
        commune_code: $("commune-code").value.trim(),
        admin_scheme: $("admin-scheme").value
      },
      priority_group: $("priority-group").value,
      preferred_site: $("preferred-site").value,
      preferred_date: optional("preferred-date"),
      health_insurance: optional("health-insurance"),
      ethnicity: optional("ethnicity"),
      nationality: optional("nationality"),
      medical_history: history,
      consent: $("consent").checked
    };
  }

  function check(body) {
    var errors = [];
    function fail(path, pair) { errors.push([path, pair || FIELDS[path][1]]); }
    var now = today();
    if (body.full_name === "") { fail("full_name"); }
    if (!isDay(body.dob)) {
      fail("dob");
    } else if (body.dob > now) {
      fail("dob", ["Ngày sinh không thể sau hôm nay.", "The date of birth cannot be after today."]);
    } else if (policy && age(body.dob, now) < policy.min_age) {
      fail("dob", ["Chưa đủ " + policy.min_age + " tuổi để đăng ký.", "Younger than " + policy.min_age + ": not yet eligible."]);
    }
    if (!body.sex) { fail("sex"); }
    var rule = ID_RULES[body.id_kind];
    if (!rule) {
      fail("id_kind");
    } else if (!rule[0].test(body.id_number)) {
      fail("id_number", rule[1]);
    }
    if (body.occupation === "") { fail("occupation"); }
    if (!/^\d{2}$/.test(body.address.province_code)) { fail("address.province_code"); }
    if (!/^\d{5}$/.test(body.address.commune_code)) { fail("address.commune_code"); }
    if (body.priority_group === "") { fail("priority_group"); }
    if (body.preferred_site === "") { fail("preferred_site"); }
    if (body.preferred_date !== null && (!isDay(body.preferred_date) || body.preferred_date < now)) {
      fail("preferred_date");
    }
    MEDICAL.forEach(function (item) {
      if (!body.medical_history[item]) { fail("medical_history." + item); }
    });
    if (!body.consent) { fail("consent"); }
    return errors;
  }

  // --- Steps 1 and 2: phone and code ---------------------------------------------------------------

  function stepError(path, pair) {
    var element = markField(path, pair);
    if (element) { element.focus(); }
  }

  function requestCode(event) {
    event.preventDefault();
    clearField("phone");
    unsay();
    var phone = phoneNumber();
    if (!/^\+?\d{9,15}$/.test(phone)) {
      stepError("phone");
      return;
    }
    send("POST", "/phone-codes", { phone: phone }).then(function (answer) {
      if (answer.status === 202) {
        say("sent", false);
        clearField("code");
        show("code");
        $("code").focus();
      } else if (answer.status === 422) {
        stepError("phone", serverPair("phone", answer.json));
      } else if (answer.status === 429) {
        say("too_soon", true);
      } else {
        say("failed", true);
      }
    }, function () { say("failed", true); });
  }

  function logIn(event) {
    event.preventDefault();
    clearField("code");
    unsay();
    var code = $("code").value.replace(/\s/g, "");
    if (!/^\d{6}$/.test(code)) {
      stepError("code");
      return;
    }
    send("POST", "/sessions", { phone: phoneNumber(), code: code }).then(function (answer) {
      if (answer.status === 201) {
        $("code").value = "";
        loadPeople(true);
      } else if (answer.status === 401) {
        stepError("code", ["Mã không đúng hoặc đã hết hạn.", "Wrong or expired code."]);
      } else if (answer.status === 422) {
        stepError(answer.json.field === "phone" ? "phone" : "code", serverPair("code", answer.json));
      } else if (answer.status === 429) {
        say("locked", true);
      } else {
        say("failed", true);
      }
    }, function () { say("failed", true); });
  }

  function logOut() {
    send("DELETE", "/sessions").then(function () {
      $("people-list").textContent = "";
      people = [];
      appointments = [];
      hidePeopleBanner();
      clearForm();
      show("phone");
      unsay();
      $("phone").focus();
    }, function () { say("failed", true); });
  }

  // --- Step 3: the people under this phone ---------------------------------------------------------

  function groupName(code) {
    var groups = (policy && policy.groups) || [];
    for (var i = 0; i < groups.length; i += 1) {
      if (groups[i].code === code) { return [groups[i].vi, groups[i].en]; }
    }
    return [code, code];
  }

  function siteName(code) {
    for (var i = 0; i < sites.length; i += 1) {
      if (sites[i].site_code === code) { return sites[i].name + " (" + code + ")"; }
    }
    return code;
  }

  function row(list, key, value) {
    var term = document.createElement("dt");
    bilingual(term, LABELS[key]);
    var definition = document.createElement("dd");
    if (typeof value === "string") {
      definition.textContent = value;
    } else {
      bilingual(definition, value);
    }
    list.appendChild(term);
    list.appendChild(definition);
  }

  function card(person) {
    var id = person.registration_id;
    var item = document.createElement("li");
    item.className = "person";
    item.id = "person-" + id;
    item.tabIndex = -1;
    var heading = document.createElement("h3");
    heading.textContent = person.full_name;
    item.appendChild(heading);
    var status = document.createElement("span");
    status.className = "status " + person.status;
    status.id = "status-" + id;
    var words = STATUS[person.status] || [person.status, person.status];
    status.textContent = words[0] + " · " + words[1];
    item.appendChild(status);

    var details = document.createElement("dl");
    row(details, "dob", person.dob || "");
    row(details, "declared_group", groupName(person.declared_group));
    if (person.priority_group && person.priority_group !== person.declared_group) {
      row(details, "priority_group", groupName(person.priority_group));
    }
    row(details, "site", siteName(person.preferred_site || ""));
    if (person.preferred_date) { row(details, "date", person.preferred_date); }
    row(details, "policy", person.policy_id + " v" + person.policy_version);
    row(details, "id", id);
    item.appendChild(details);

    var appointment = liveAppointment(id);
    if (appointment) { item.appendChild(appointmentBox(person, appointment)); }

    if (person.status === "waiting" || person.status === "invited") {
      var cancel = document.createElement("button");
      cancel.type = "button";
      cancel.className = "cancel";
      cancel.id = "cancel-" + id;
      bilingual(cancel, ["Hủy đăng ký của " + person.full_name, "Cancel this registration"]);
      cancel.addEventListener("click", function () { cancelRegistration(cancel, person); });
      item.appendChild(cancel);
    }
    return item;
  }

  // --- A person's invitation -----------------------------------------------------------------------

  // The person's invitation still open (invited or confirmed), if any.
  function liveAppointment(registrationId) {
    for (var i = 0; i < appointments.length; i += 1) {
      var appointment = appointments[i];
      if (appointment.registration_id === registrationId &&
          (appointment.status === "invited" || appointment.status === "confirmed")) {
        return appointment;
      }
    }
    return null;
  }

  // The day and session in words: "Buổi sáng, Thứ Năm 03/12/2026", "Thursday 3 December 2026, morning".
  function when(day, session) {
    var part = SESSIONS[session] || [session, session];
    if (!isDay(day)) { return [part[0] + ", " + day, day + ", " + part[1]]; }
    var weekday = WEEKDAYS[new Date(day + "T00:00:00Z").getUTCDay()];
    var month = MONTHS[Number(day.slice(5, 7)) - 1];
    return [part[0] + ", " + weekday[0] + " " + day.slice(8) + "/" + day.slice(5, 7) + "/" + day.slice(0, 4),
      weekday[1] + " " + Number(day.slice(8)) + " " + month + " " + day.slice(0, 4) + ", " + part[1]];
  }

  function actionButton(className, pair) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = className;
    bilingual(button, pair);
    return button;
  }

  // The invitation's box in the person's item: the booking code first and large (it is shown at
  // check-in), when and where, the dose; to confirm (while invited) and to cancel.
  function appointmentBox(person, appointment) {
    var id = person.registration_id;
    var code = appointment.booking_code;
    var box = document.createElement("section");
    box.className = "appointment " + appointment.status;
    box.id = "appointment-" + id;
    box.tabIndex = -1;
    box.setAttribute("aria-labelledby", "appointment-heading-" + id);
    var heading = document.createElement("h4");
    heading.id = "appointment-heading-" + id;
    bilingual(heading, ["Lịch hẹn tiêm của " + person.full_name, "Vaccination appointment"]);
    box.appendChild(heading);

    var booking = document.createElement("p");
    booking.className = "booking";
    var label = document.createElement("span");
    label.className = "booking-label";
    bilingual(label, ["Mã đặt lịch: đưa mã này khi đến tiêm", "Booking code: show it at check-in"]);
    var shown = document.createElement("strong");
    shown.className = "booking-code";
    shown.id = "booking-code-" + id;
    shown.textContent = code;
    booking.appendChild(label);
    booking.appendChild(shown);
    box.appendChild(booking);

    var details = document.createElement("dl");
    var words = APPOINTMENT_STATUS[appointment.status] || [appointment.status, appointment.status];
    var status = document.createElement("span");
    status.className = "status " + appointment.status;
    status.id = "appointment-status-" + id;
    status.textContent = words[0] + " · " + words[1];
    var term = document.createElement("dt");
    bilingual(term, LABELS.appointment_status);
    var definition = document.createElement("dd");
    definition.appendChild(status);
    details.appendChild(term);
    details.appendChild(definition);
    row(details, "when", when(appointment.day, appointment.session));
    row(details, "site", siteName(appointment.site || ""));
    row(details, "dose", ["Mũi " + appointment.dose_number, "Dose " + appointment.dose_number]);
    if (appointment.product) { row(details, "product", appointment.product); }
    box.appendChild(details);

    var note = document.createElement("p");
    note.className = "hint";
    note.id = "appointment-note-" + id;
    bilingual(note, ["Không đến được? Hãy hủy lịch hẹn: người này vẫn ở trong danh sách chờ và sẽ được mời lại vào ngày khác.",
      "Cannot come? Cancel the appointment: this person stays on the waiting list and will be invited again for another day."]);
    box.appendChild(note);

    var actions = document.createElement("div");
    actions.className = "actions";
    if (appointment.status === "invited") {
      var confirmButton = actionButton("confirm", ["Xác nhận", "Confirm"]);
      confirmButton.id = "confirm-" + code;
      confirmButton.setAttribute("aria-describedby", "appointment-heading-" + id);
      confirmButton.addEventListener("click", function () { confirmAppointment(confirmButton, appointment); });
      actions.appendChild(confirmButton);
    }
    var cancel = actionButton("cancel", ["Hủy lịch hẹn", "Cancel the appointment"]);
    cancel.id = "cancel-appointment-" + code;
    cancel.setAttribute("aria-describedby", "appointment-heading-" + id + " appointment-note-" + id);
    cancel.addEventListener("click", function () { cancelAppointment(cancel, appointment); });
    actions.appendChild(cancel);
    box.appendChild(actions);
    return box;
  }

  function showPeopleBanner(pair) {
    var banner = $("people-banner");
    bilingual(banner, pair);
    banner.hidden = false;
    banner.focus();
  }

  function hidePeopleBanner() {
    $("people-banner").hidden = true;
    $("people-banner").textContent = "";
  }

  // POSTs `action` ("confirmation" or "cancellation") for the appointment, then redraws the list; `done`
  // runs after a success. A 404 or 409 (gone, or no longer open) redraws the list under a banner.
  function appointmentAction(button, appointment, action, done) {
    hidePeopleBanner();
    button.disabled = true;
    var path = "/appointments/" + encodeURIComponent(appointment.booking_code) + "/" + action;
    send("POST", path).then(function (answer) {
      if (answer.status === 200) {
        loadPeople(false).then(done);
      } else if (answer.status === 404 || answer.status === 409) {
        var key = answer.status === 404 ? "appointment_gone" : "appointment_closed";
        loadPeople(false).then(function () {
          showPeopleBanner([MESSAGES[key][0], (answer.json && answer.json.error) || MESSAGES[key][1]]);
        });
      } else if (answer.status === 401) {
        show("phone");
        say("no_session", true);
      } else {
        button.disabled = false;
        say("failed", true);
      }
    }, function () {
      button.disabled = false;
      say("failed", true);
    });
  }

  function confirmAppointment(button, appointment) {
    appointmentAction(button, appointment, "confirmation", function () {
      say("appointment_confirmed", false);
      var box = $("appointment-" + appointment.registration_id);
      if (box) { box.focus(); } else { $("people-heading").focus(); }
    });
  }

  // Two presses, as for a registration: the first asks for confirmation, the second cancels.
  function cancelAppointment(button, appointment) {
    if (!button.classList.contains("confirming")) {
      button.classList.add("confirming");
      bilingual(button, ["Bấm lần nữa để xác nhận hủy lịch hẹn", "Press again to confirm cancelling the appointment"]);
      say("confirm_cancel_appointment", false);
      return;
    }
    appointmentAction(button, appointment, "cancellation", function () {
      say("appointment_cancelled", false);
      var item = $("person-" + appointment.registration_id);
      if (item) { item.focus(); } else { $("people-heading").focus(); }
    });
  }

  // Two presses: the first asks for confirmation, the second cancels.
  function cancelRegistration(button, person) {
    if (!button.classList.contains("confirming")) {
      button.classList.add("confirming");
      bilingual(button, ["Bấm lần nữa để xác nhận hủy", "Press again to confirm the cancellation"]);
      say("confirm_cancel", false);
      return;
    }
    hidePeopleBanner();
    button.disabled = true;
    send("DELETE", "/registrations/" + encodeURIComponent(person.registration_id)).then(function (answer) {
      if (answer.status === 200) {
        loadPeople(false).then(function () {
          say("cancelled", false);
          $("people-heading").focus();
        });
      } else if (answer.status === 401) {
        show("phone");
        say("no_session", true);
      } else {
        button.disabled = false;
        say("failed", true);
      }
    }, function () {
      button.disabled = false;
      say("failed", true);
    });
  }

  function active(person) {
    return person.status !== "cancelled" && person.status !== "refused";
  }

  // The registrations and then the appointments: [registrations answer, appointments answer or null].
  function fetchPeople() {
    return send("GET", "/registrations").then(function (registrations) {
      if (registrations.status !== 200) { return [registrations, null]; }
      return send("GET", "/appointments").then(function (listed) {
        return [registrations, listed];
      }, function () { return [registrations, null]; });
    });
  }

  // Draws the list from the answers of fetchPeople; whether the appointments could be read.
  function render(answer, listed) {
    var loaded = !!listed && listed.status === 200 && Array.isArray(listed.json.appointments);
    appointments = loaded ? listed.json.appointments : [];
    people = answer.json.registrations || [];
    var max = answer.json.max_people || 0;
    var list = $("people-list");
    list.textContent = "";
    people.forEach(function (person) { list.appendChild(card(person)); });
    var count = people.filter(active).length;
    bilingual($("people-count"), [count + " / " + max + " người đang đăng ký với số này.",
      count + " of " + max + " people registered under this phone."]);
    var full = max > 0 && count >= max;
    $("register-step").hidden = full;
    $("full-note").hidden = !full;
    if (full) {
      bilingual($("full-note"), ["Số điện thoại này đã đủ " + max + " người. Hủy một đăng ký để đăng ký người khác.",
        "This phone has its maximum of " + max + " people. Cancel a registration to register someone else."]);
    }
    return loaded;
  }

  // The page's message after drawing the list: the appointments unreadable, else nobody registered.
  function sayListed(loaded) {
    if (!loaded) {
      say("appointments_failed", true);
    } else if (people.length === 0) {
      say("empty", false);
    }
  }

  // Shows the list; `focus` moves focus to its heading (after logging in).
  function loadPeople(focus) {
    return fetchPeople().then(function (answers) {
      var answer = answers[0];
      if (answer.status !== 200) {
        show("phone");
        if (answer.status === 401) { say("no_session", true); } else { say("failed", true); }
        return;
      }
      var loaded = render(answer, answers[1]);
      unsay();
      sayListed(loaded);
      show("people");
      if (focus) { $("people-heading").focus(); }
    }, function () { say("failed", true); });
  }

  // --- The form ----------------------------------------------------------------------------------

  function register(event) {
    event.preventDefault();
    clearForm();
    var body = formBody();
    var errors = check(body);
    if (errors.length > 0) {
      showErrors(errors);
      return;
    }
    var button = $("register-button");
    button.disabled = true;
    send("POST", "/registrations", body).then(function (answer) {
      button.disabled = false;
      if (answer.status === 201) {
        $("register-form").reset();
        describeGroup();
        loadPeople(false).then(function () {
          say("registered", false);
          $("people-heading").focus();
        });
      } else if (answer.status === 422) {
        var path = knownField(answer.json.field || "");
        if (path) {
          showErrors([[path, serverPair(path, answer.json)]]);
        } else {
          showBanner([MESSAGES.fix[0], answer.json.error || MESSAGES.fix[1]]);
        }
      } else if (answer.status === 409) {
        showBanner([MESSAGES.conflict[0], answer.json.error || MESSAGES.conflict[1]]);
      } else if (answer.status === 401) {
        show("phone");
        say("no_session", true);
      } else {
        showBanner(MESSAGES.failed);
      }
    }, function () {
      button.disabled = false;
      showBanner(MESSAGES.failed);
    });
  }

  // The id of the element whose error `target` (an input that changed) clears.
  function fieldOf(target) {
    var group = target.type === "radio" ? target.closest("fieldset") : null;
    return group ? group.id : target.id;
  }

  function describeGroup() {
    var code = $("priority-group").value;
    var description = $("priority-group-name");
    if (code === "") {
      description.textContent = "";
    } else {
      bilingual(description, groupName(code));
    }
  }

  function fillGroups() {
    var select = $("priority-group");
    policy.groups.slice().sort(function (a, b) { return a.rank - b.rank; }).forEach(function (group) {
      var option = document.createElement("option");
      option.value = group.code;
      option.textContent = group.rank + ". " + group.vi + " · " + group.en;
      select.appendChild(option);
    });
    bilingual($("policy-title"), ["Chính sách ưu tiên: " + policy.title_vi, "Priority policy: " + policy.title_en]);
    bilingual($("dob-hint"), ["Từ " + policy.min_age + " tuổi trở lên.", "Aged " + policy.min_age + " or over."]);
  }

  // The sites, those in the province typed first.
  function fillSites() {
    var select = $("preferred-site");
    var chosen = select.value;
    var province = $("province-code").value.trim();
    while (select.options.length > 1) { select.remove(1); }
    var ordered = sites.slice().sort(function (a, b) {
      var near = (b.province_code === province) - (a.province_code === province);
      return near !== 0 ? near : a.name.localeCompare(b.name, "vi");
    });
    ordered.forEach(function (site) {
      var option = document.createElement("option");
      option.value = site.site_code;
      option.textContent = site.name + " (" + site.site_code + ")" +
        (site.hospital_grade ? " · Bệnh viện · Hospital" : "");
      select.appendChild(option);
    });
    select.value = chosen;
  }

  function loadChoices() {
    return Promise.all([send("GET", "/policy"), send("GET", "/sites")]).then(function (answers) {
      if (answers[0].status !== 200 || answers[1].status !== 200) {
        say("setup", true);
        return;
      }
      policy = answers[0].json;
      var listed = answers[1].json && answers[1].json.sites;
      sites = Array.isArray(listed) ? listed : [];
      fillGroups();
      fillSites();
    }, function () { say("setup", true); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("people-heading").tabIndex = -1;
    $("preferred-date").placeholder = today();
    $("form-banner").tabIndex = -1;
    $("people-banner").tabIndex = -1;
    $("phone-form").addEventListener("submit", requestCode);
    $("code-form").addEventListener("submit", logIn);
    $("register-form").addEventListener("submit", register);
    $("change-phone-button").addEventListener("click", function () {
      show("phone");
      unsay();
      $("phone").focus();
    });
    $("logout-button").addEventListener("click", logOut);
    $("priority-group").addEventListener("change", describeGroup);
    $("province-code").addEventListener("change", fillSites);
    $("id-kind").addEventListener("change", function () { clearField("id-number"); });
    $("register-form").addEventListener("change", function (event) { clearField(fieldOf(event.target)); });
    $("register-form").addEventListener("input", function (event) { clearField(fieldOf(event.target)); });
    // The choices first, so that a session still open (a reload) shows group and site names.
    loadChoices().then(fetchPeople).then(function (answers) {
      if (answers[0].status === 200) {
        sayListed(render(answers[0], answers[1]));
        show("people");
      }
    });
  });
})();
