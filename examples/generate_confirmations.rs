//! Writes N valid dose confirmations as JSON lines to stdout, for `vaxcert issue --from` load runs: the
//! request body of `POST /internal/v1/dose-confirmations` (domain.md, "Dose → certificate"), with
//! Vietnamese names as written (diacritics, NFC; `fnt`/`gnt` left to the issuer), the products used in
//! Viet Nam with a vaccine type their encoding instructions allow, and one unique dose event id per line.
//! Deterministic: the same count, seed and order give the same file.
//!
//! Dose event ids are UUIDv7, as the registry makes them: by default they grow along the file (an export
//! in recording order); `random` records each line at a random moment instead (ids in no order, which
//! costs the ledger's indexes more).
//!
//! `cargo run --release -p vaxcert-examples --example generate_confirmations -- <count> [seed] [ordered|random] > doses.jsonl`

use std::io::Write;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use time::OffsetDateTime;

/// A product of domain.md: `mp`, its manufacturer `ma`, the `vp` codes its encoding instructions allow,
/// the doses of its primary series, and a lot-number prefix.
struct Product {
    mp: &'static str,
    ma: &'static str,
    vp: &'static [&'static str],
    series: u32,
    lot: &'static str,
}

const PRODUCTS: &[Product] = &[
    Product {
        mp: "EU/1/21/1529",
        ma: "ORG-100001699",
        vp: &["28531000087107", "29061000087103"],
        series: 2,
        lot: "ABV",
    },
    Product {
        mp: "EU/1/20/1528",
        ma: "ORG-100030215",
        vp: &["1119349007", "28531000087107"],
        series: 2,
        lot: "FF",
    },
    Product {
        mp: "EU/1/20/1507",
        ma: "ORG-100031184",
        vp: &["1119349007", "28531000087107"],
        series: 2,
        lot: "MOD",
    },
    Product {
        mp: "EU/1/20/1525",
        ma: "ORG-100001417",
        vp: &["28531000087107", "29061000087103"],
        series: 1,
        lot: "XE",
    },
    Product {
        mp: "BBIBP-CorV",
        ma: "ORG-100020693",
        vp: &["28531000087107", "1157024006"],
        series: 2,
        lot: "2021",
    },
    Product {
        mp: "Sputnik-V",
        ma: "Gamaleya-Research-Institute",
        vp: &["28531000087107", "29061000087103"],
        series: 2,
        lot: "I-",
    },
    Product {
        mp: "Hayat-Vax",
        ma: "ORG-100023050",
        vp: &["28531000087107", "1157024006"],
        series: 2,
        lot: "HV",
    },
    Product {
        mp: "Abdala",
        ma: "CIGB",
        vp: &["28531000087107"],
        series: 3,
        lot: "ABD",
    },
];

const FAMILY_NAMES: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    "Hồ", "Ngô", "Dương", "Lý", "Đinh", "Trương", "Lâm", "Mai", "Cao", "Tạ", "Quách", "Lương",
    "Đoàn", "Vương", "Trịnh", "Hà", "Châu", "Thái", "Kiều", "Âu",
];
const MIDDLE_NAMES: &[&str] = &[
    "Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quốc", "Thu", "Xuân", "Hoài", "Bảo",
    "Gia", "Kim", "Phương", "Công", "Đình", "Mỹ", "Thùy", "Nhật",
];
const GIVEN_NAMES: &[&str] = &[
    "Anh", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hòa", "Hùng", "Hương",
    "Khánh", "Lan", "Linh", "Long", "Mai", "Nam", "Nga", "Ngân", "Nhung", "Phúc", "Phương", "Quân",
    "Quang", "Sơn", "Tâm", "Thảo", "Thắng", "Trang", "Trí", "Trung", "Tuấn", "Tùng", "Uyên", "Vân",
    "Việt", "Vy", "Yến", "Đạt", "Đông", "Ánh", "Ý", "Duy", "Khoa", "Nghĩa",
];
/// Names of the Central Highlands (Ê Đê, Gia Rai): (family, given), apostrophes included.
const HIGHLAND_NAMES: &[(&str, &str)] = &[
    ("Niê", "H'Hen"),
    ("Ksor", "H'Bia"),
    ("Rơ Châm", "Y Moan"),
    ("Mlô", "H'Ngôn"),
    ("Êban", "Y Khu"),
];
const SITES: &[&str] = &["HN", "HCM", "HP", "DN", "CT", "DLK", "QN", "TH", "NA", "KH"];

/// SplitMix64: a small deterministic generator, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        let index = usize::try_from(self.below(items.len() as u64)).ok()?;
        items.get(index)
    }
}

/// Viet Nam's campaign: from 2021-03-08 (the first dose) to the end of 2022, in unix milliseconds.
const CAMPAIGN_START_MS: u64 = 1_615_161_600_000;
const CAMPAIGN_END_MS: u64 = 1_672_531_200_000;

/// The `n`th confirmation of `count`. With `ordered`, line `n` is recorded at the `n/count` point of the
/// campaign, so the UUIDv7 dose event ids grow along the file like a registry export's; otherwise each
/// is recorded at a random moment of the campaign.
fn confirmation(rng: &mut Rng, n: u64, count: u64, ordered: bool) -> Option<Value> {
    let product = rng.pick(PRODUCTS)?;
    let vp = rng.pick(product.vp)?;
    let (family, given) = if rng.below(50) == 0 {
        let (family, given) = rng.pick(HIGHLAND_NAMES)?;
        ((*family).to_owned(), (*given).to_owned())
    } else {
        let family = rng.pick(FAMILY_NAMES)?;
        let middle = rng.pick(MIDDLE_NAMES)?;
        let given = rng.pick(GIVEN_NAMES)?;
        ((*family).to_owned(), format!("{middle} {given}"))
    };
    let birth_year = 1930 + rng.below(86);
    let dob = if birth_year < 1950 && rng.below(4) == 0 {
        format!("{birth_year}")
    } else {
        format!(
            "{birth_year}-{:02}-{:02}",
            1 + rng.below(12),
            1 + rng.below(28)
        )
    };
    let (dn, sd) = if rng.below(5) == 0 {
        (product.series + 1, product.series + 1)
    } else {
        let dn = 1 + u32::try_from(rng.below(u64::from(product.series))).ok()?;
        (dn, product.series)
    };
    let span = CAMPAIGN_END_MS - CAMPAIGN_START_MS;
    let recorded_ms = if ordered {
        // Strictly increasing: line n falls in [n * step, (n + 1) * step).
        let step = (span / count.max(1)).max(1);
        CAMPAIGN_START_MS + n * step + rng.below(step)
    } else {
        CAMPAIGN_START_MS + rng.below(span)
    };
    let recorded = OffsetDateTime::from_unix_timestamp(i64::try_from(recorded_ms / 1000).ok()?)
        .ok()?
        .to_offset(time::macros::offset!(+7));
    let year = recorded.year();
    let dt = format!(
        "{year}-{:02}-{:02}",
        u8::from(recorded.month()),
        recorded.day()
    );
    let site = rng.pick(SITES)?;
    let province = 1 + rng.below(96);
    let id_number = format!(
        "{province:03}{}{:02}{:06}",
        rng.below(4),
        birth_year % 100,
        rng.below(1_000_000)
    );
    // UUIDv7 (RFC 9562): 48-bit unix milliseconds, version 7, 12 + 62 random bits; the line number in
    // the low 32 bits keeps ids unique even where two lines share a millisecond.
    let (a, b) = (rng.next(), rng.next());
    let dose_event_id = format!(
        "{:08x}-{:04x}-7{:03x}-{:04x}-{:012x}",
        recorded_ms >> 16,
        recorded_ms & 0xffff,
        a & 0xfff,
        0x8000 | ((a >> 12) & 0x3fff),
        (b & 0xffff_0000_0000) | (n & 0xffff_ffff)
    );
    let record_hash: String = (0..4).map(|_| format!("{:016x}", rng.next())).collect();
    Some(json!({
        "dose_event_id": dose_event_id,
        "supersedes_dose_event_id": null,
        "person": {"fn": family, "gn": given, "dob": dob, "id_number": id_number,
                   "phone": format!("+849{:08}", rng.below(100_000_000))},
        "vaccination": {"tg": "840539006", "vp": vp, "mp": product.mp, "ma": product.ma,
                        "dn": dn, "sd": sd, "dt": dt, "co": "VN",
                        "lot_number": format!("{}{:04}", product.lot, rng.below(10_000))},
        "provenance": {"site_code": format!("{site}-{:04}", rng.below(10_000)),
                       "registry_record_id": format!("R-{year}-{n:07}"),
                       "record_hash": format!("sha256:{record_hash}")},
    }))
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let count: u64 = args
        .next()
        .context("usage: generate_confirmations <count> [seed] [ordered|random]")?
        .parse()
        .context("<count> is a number")?;
    let seed: u64 = match args.next() {
        Some(seed) => seed.parse().context("[seed] is a number")?,
        None => 2021,
    };
    let ordered = match args.next().as_deref() {
        None | Some("ordered") => true,
        Some("random") => false,
        Some(_) => bail!("the order is `ordered` (the default) or `random`"),
    };
    let mut rng = Rng(seed);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    for n in 0..count {
        let line = confirmation(&mut rng, n, count, ordered).context("no product")?;
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
