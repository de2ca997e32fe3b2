//! What intake tells people, and how it reads in an SMS (`domain.md`): Vietnamese without diacritics
//! (an SMS segment holds 160 such characters, 70 with them), the name masked, a short booking code —
//! never an identity document number or a medical answer, which no [`Message`] can even carry.

use unicode_normalization::UnicodeNormalization as _;
use unicode_normalization::char::is_combining_mark;

/// A message to a person's phone.
#[derive(Clone, PartialEq, Eq)]
pub enum Message {
    /// The registration was received.
    RegistrationReceived {
        /// The person's full name (masked in the text).
        name: String,
    },
    /// Invited to a site on a day.
    Invitation {
        /// The person's full name.
        name: String,
        /// The site's code.
        site: String,
        /// The day, `YYYY-MM-DD`.
        day: String,
        /// `morning` or `afternoon`.
        session: String,
        /// The booking code shown at check-in.
        booking_code: String,
    },
    /// A reminder the day before.
    Reminder {
        /// The person's full name.
        name: String,
        /// The site's code.
        site: String,
        /// The day, `YYYY-MM-DD`.
        day: String,
        /// The booking code.
        booking_code: String,
    },
    /// The appointment was cancelled or is to be rescheduled: the person is back on the waiting list.
    Cancelled {
        /// The person's full name.
        name: String,
        /// The booking code that no longer holds.
        booking_code: String,
    },
    /// Screening postponed the dose.
    Postponed {
        /// The person's full name.
        name: String,
        /// The first day they may be invited again, `YYYY-MM-DD`.
        until: String,
    },
    /// A dose was recorded.
    DoseRecorded {
        /// The person's full name.
        name: String,
        /// Which dose.
        dose_number: u8,
    },
    /// The next dose is due.
    NextDoseDue {
        /// The person's full name.
        name: String,
        /// From which day, `YYYY-MM-DD`.
        from: String,
    },
    /// The certificate can be downloaded: a link, never the QR itself.
    CertificateAvailable {
        /// The person's full name.
        name: String,
        /// Where to download it (the citizen portal).
        link: String,
    },
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Message").field(&self.kind()).finish()
    }
}

impl Message {
    /// The kind, as stored: `registration_received`, `invitation`, …
    pub fn kind(&self) -> &'static str {
        match self {
            Message::RegistrationReceived { .. } => "registration_received",
            Message::Invitation { .. } => "invitation",
            Message::Reminder { .. } => "reminder",
            Message::Cancelled { .. } => "cancelled",
            Message::Postponed { .. } => "postponed",
            Message::DoseRecorded { .. } => "dose_recorded",
            Message::NextDoseDue { .. } => "next_dose_due",
            Message::CertificateAvailable { .. } => "certificate_available",
        }
    }

    /// The SMS text: Vietnamese without diacritics, the name masked.
    pub fn text(&self) -> String {
        let text = match self {
            Message::RegistrationReceived { name } => format!(
                "{}: da nhan dang ky tiem chung COVID-19. Ban se nhan tin nhan khi duoc moi tiem.",
                mask_name(name)
            ),
            Message::Invitation {
                name,
                site,
                day,
                session,
                booking_code,
            } => format!(
                "{}: moi tiem vac xin COVID-19 tai diem {site}, ngay {day}, buoi {}. Ma hen: {booking_code}",
                mask_name(name),
                if session == "afternoon" {
                    "chieu"
                } else {
                    "sang"
                }
            ),
            Message::Reminder {
                name,
                site,
                day,
                booking_code,
            } => format!(
                "{}: nhac lich tiem ngay {day} tai diem {site}. Ma hen: {booking_code}",
                mask_name(name)
            ),
            Message::Cancelled { name, booking_code } => format!(
                "{}: lich hen {booking_code} da huy. Ban van trong danh sach cho tiem.",
                mask_name(name)
            ),
            Message::Postponed { name, until } => format!(
                "{}: tam hoan tiem sau kham sang loc. Co the tiem lai tu ngay {until}.",
                mask_name(name)
            ),
            Message::DoseRecorded { name, dose_number } => format!(
                "{}: da ghi nhan mui tiem so {dose_number}. Theo doi suc khoe sau tiem.",
                mask_name(name)
            ),
            Message::NextDoseDue { name, from } => format!(
                "{}: den han mui tiem tiep theo tu ngay {from}.",
                mask_name(name)
            ),
            Message::CertificateAvailable { name, link } => format!(
                "{}: chung nhan tiem chung da san sang. Tai ve tai {link}",
                mask_name(name)
            ),
        };
        unaccented(&text)
    }
}

/// `name` masked for a message: every word but the last cut to its first letter and `*`, without
/// diacritics — `Nguyễn Bảo Duy` → `N* B* Duy`.
pub fn mask_name(name: &str) -> String {
    let words: Vec<&str> = name.split_whitespace().collect();
    let Some((last, rest)) = words.split_last() else {
        return String::new();
    };
    let mut out = String::new();
    for word in rest {
        if let Some(first) = word.chars().next() {
            out.push_str(&unaccented(&first.to_string()));
            out.push_str("* ");
        }
    }
    out.push_str(&unaccented(last));
    out
}

/// `text` without Vietnamese diacritics: tones and vowel marks dropped, `Đ`/`đ` as `D`/`d`; any other
/// character that is not printable ASCII becomes `?`.
pub fn unaccented(text: &str) -> String {
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            'Đ' => 'D',
            'đ' => 'd',
            c if c.is_ascii() && !c.is_ascii_control() => c,
            _ => '?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{Message, mask_name, unaccented};

    fn every_kind() -> Vec<Message> {
        let name = String::from("Nguyễn Thị Ánh Tuyết");
        vec![
            Message::RegistrationReceived { name: name.clone() },
            Message::Invitation {
                name: name.clone(),
                site: "HN-0123".into(),
                day: "2021-09-14".into(),
                session: "afternoon".into(),
                booking_code: "K7Q2M9".into(),
            },
            Message::Reminder {
                name: name.clone(),
                site: "HN-0123".into(),
                day: "2021-09-14".into(),
                booking_code: "K7Q2M9".into(),
            },
            Message::Cancelled {
                name: name.clone(),
                booking_code: "K7Q2M9".into(),
            },
            Message::Postponed {
                name: name.clone(),
                until: "2021-09-28".into(),
            },
            Message::DoseRecorded {
                name: name.clone(),
                dose_number: 2,
            },
            Message::NextDoseDue {
                name: name.clone(),
                from: "2021-11-09".into(),
            },
            Message::CertificateAvailable {
                name,
                link: "https://tiemchung.example/citizen/".into(),
            },
        ]
    }

    #[test]
    fn texts_are_plain_ascii_fit_one_segment_and_mask_the_name() {
        for message in every_kind() {
            let text = message.text();
            assert!(text.is_ascii(), "{text}");
            assert!(
                text.len() <= 160,
                "{} is {} long",
                message.kind(),
                text.len()
            );
            assert!(text.starts_with("N* T* A* Tuyet:"), "{text}");
            assert!(!text.contains("Nguyen"), "{text}");
        }
    }

    #[test]
    fn names_lose_diacritics_and_all_but_the_last_word() {
        assert_eq!(mask_name("Nguyễn Bảo Duy"), "N* B* Duy");
        assert_eq!(mask_name("  Đặng   Đức  "), "D* Duc");
        assert_eq!(mask_name("H'Hen Niê"), "H* Nie");
        assert_eq!(mask_name(""), "");
        assert_eq!(
            unaccented("Mũi tiêm số 2 — đã ghi nhận"),
            "Mui tiem so 2 ? da ghi nhan"
        );
    }

    #[test]
    fn debug_shows_the_kind_only() {
        for message in every_kind() {
            assert!(!format!("{message:?}").contains("Tuy"));
        }
    }
}
