//! Mask selection (ISO/IEC 18004:2015 §7.8), the one part of QR encoding where the encoders we measured
//! spend most of their time (BENCHMARKS.md, issue 10).
//!
//! `qrcodegen` builds the symbol with mask 0 forced (fast); this module recovers the unmasked symbol from
//! it, scores the eight masks with the four penalty rules on rows packed as bits, and applies the best
//! mask and its format information. A symbol wider than [`MAX_PACKED_SIDE`] modules keeps mask 0, which
//! a reader accepts like any other (HC1 certificates are far smaller).

/// Widest symbol scored with packed rows: 120 modules (version 25) plus 4 light modules on each side
/// fit one `u128`.
pub(super) const MAX_PACKED_SIDE: usize = 120;

/// Penalty weights N1 to N4 (ISO/IEC 18004:2015 §7.8.3.1).
const N1: u32 = 3;
const N2: u32 = 3;
const N3: u32 = 40;
const N4: u32 = 10;

/// Error correction level Q in the format information (ISO/IEC 18004 table 12).
const FORMAT_ECL_Q: u32 = 0b11;

/// Whether mask `mask` inverts the module at column `x`, row `y` (ISO/IEC 18004 table 10).
pub(super) fn inverts(mask: u8, x: usize, y: usize) -> bool {
    match mask {
        0 => (x + y).is_multiple_of(2),
        1 => y.is_multiple_of(2),
        2 => x.is_multiple_of(3),
        3 => (x + y).is_multiple_of(3),
        4 => (x / 3 + y / 2).is_multiple_of(2),
        5 => x * y % 2 + x * y % 3 == 0,
        6 => (x * y % 2 + x * y % 3).is_multiple_of(2),
        _ => ((x + y) % 2 + x * y % 3).is_multiple_of(2),
    }
}

/// Which modules are function patterns (finders, separators, timing, alignment, format and version
/// information): the ones no mask touches.
pub(super) fn function_modules(side: usize) -> Vec<bool> {
    let mut function = vec![false; side * side];
    let mut set = |x: usize, y: usize| {
        if let Some(module) = function.get_mut(y * side + x) {
            *module = true;
        }
    };
    // Finders with their separators and the format information beside them (and the dark module).
    for y in 0..9.min(side) {
        for x in 0..9.min(side) {
            set(x, y);
        }
        for x in side.saturating_sub(8)..side {
            set(x, y);
            set(y, x);
        }
    }
    // Timing patterns.
    for i in 0..side {
        set(6, i);
        set(i, 6);
    }
    // Alignment patterns, except where they would overlap a finder.
    let positions = alignment_positions(side);
    let last = positions.len().saturating_sub(1);
    for (i, &cy) in positions.iter().enumerate() {
        for (j, &cx) in positions.iter().enumerate() {
            let corner = |a: usize, b: usize| a == 0 && (b == 0 || b == last);
            if corner(i, j) || corner(j, i) {
                continue;
            }
            for y in cy - 2..=cy + 2 {
                for x in cx - 2..=cx + 2 {
                    set(x, y);
                }
            }
        }
    }
    // Version information, from version 7 (45 modules) on.
    if side >= 45 {
        for a in 0..6 {
            for b in side - 11..side - 8 {
                set(b, a);
                set(a, b);
            }
        }
    }
    function
}

/// Centres of the alignment patterns on either axis (ISO/IEC 18004 annex E).
fn alignment_positions(side: usize) -> Vec<usize> {
    let version = (side.saturating_sub(17)) / 4;
    if version < 2 {
        return Vec::new();
    }
    let count = version / 7 + 2;
    let step = if version == 32 {
        26
    } else {
        (version * 4 + count * 2 + 1) / (count * 2 - 2) * 2
    };
    let mut positions: Vec<usize> = (0..count - 1).map(|i| side - 7 - i * step).collect();
    positions.push(6);
    positions.reverse();
    positions
}

/// The 15 format-information bits for error correction Q and `mask` (ISO/IEC 18004 §7.9).
fn format_bits(mask: u8) -> u32 {
    let data = (FORMAT_ECL_Q << 3) | u32::from(mask);
    let mut remainder = data;
    for _ in 0..10 {
        remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537);
    }
    ((data << 10) | remainder) ^ 0x5412
}

/// The modules of the format information of `mask` in both of its places, and the dark module, as
/// `(x, y, dark)`.
fn format_modules(side: usize, mask: u8) -> impl Iterator<Item = (usize, usize, bool)> {
    let bits = format_bits(mask);
    let bit = move |i: usize| (bits >> i) & 1 == 1;
    (0..6)
        .map(move |i| (8, i, bit(i)))
        .chain([(8, 7, bit(6)), (8, 8, bit(7)), (7, 8, bit(8))])
        .chain((9..15).map(move |i| (14 - i, 8, bit(i))))
        .chain((0..8).map(move |i| (side - 1 - i, 8, bit(i))))
        .chain((8..15).map(move |i| (8, side - 15 + i, bit(i))))
        .chain([(8, side - 8, true)])
}

/// Turns a symbol built with mask 0 into the same symbol under the mask of least penalty; returns
/// the mask chosen.
pub(super) fn choose_mask(modules: &mut [bool], side: usize) -> u8 {
    if !(21..=MAX_PACKED_SIDE).contains(&side) || modules.len() != side * side {
        return 0;
    }
    let function = function_modules(side);
    let data_rows = pack(&function, side, false).map(|row| !row & ones(side));
    let data_columns = pack(&function, side, true).map(|row| !row & ones(side));
    // The data modules as they were before mask 0, as rows and as columns.
    let mut rows = pack(modules, side, false);
    let mut columns = pack(modules, side, true);
    for (lines, data, transposed) in [
        (&mut rows, &data_rows, false),
        (&mut columns, &data_columns, true),
    ] {
        let patterns = patterns(0, side, transposed);
        for ((line, data), pattern) in lines.iter_mut().zip(data).zip(patterns.iter().cycle()) {
            *line ^= pattern & data;
        }
    }

    let mut best = (u32::MAX, 0, [0u128; MAX_PACKED_SIDE]);
    for mask in 0..8 {
        let mut masked_rows = rows;
        let mut masked_columns = columns;
        for (lines, data, transposed) in [
            (&mut masked_rows, &data_rows, false),
            (&mut masked_columns, &data_columns, true),
        ] {
            let patterns = patterns(mask, side, transposed);
            for ((line, data), pattern) in lines.iter_mut().zip(data).zip(patterns.iter().cycle()) {
                *line ^= pattern & data;
            }
        }
        for (x, y, dark) in format_modules(side, mask) {
            for (line, bit, lines) in [(y, x, &mut masked_rows), (x, y, &mut masked_columns)] {
                if let Some(slot) = lines.get_mut(line) {
                    if dark {
                        *slot |= 1 << bit;
                    } else {
                        *slot &= !(1 << bit);
                    }
                }
            }
        }
        let score = penalty(&masked_rows, &masked_columns, side);
        if score < best.0 {
            best = (score, mask, masked_rows);
        }
    }
    let (_, mask, masked_rows) = best;
    for (row, line) in modules.chunks_exact_mut(side).zip(masked_rows) {
        for (x, module) in row.iter_mut().enumerate() {
            *module = (line >> x) & 1 == 1;
        }
    }
    mask
}

/// The modules `mask` inverts along lines 0 to 11 (rows, or columns when `transposed`): every mask
/// repeats every 12 lines.
fn patterns(mask: u8, side: usize, transposed: bool) -> [u128; 12] {
    core::array::from_fn(|i| pattern_line(mask, i, side, transposed))
}

/// The modules as one `u128` per row (or per column when `transposed`), module 0 in bit 0.
fn pack(modules: &[bool], side: usize, transposed: bool) -> [u128; MAX_PACKED_SIDE] {
    let mut lines = [0u128; MAX_PACKED_SIDE];
    for (y, row) in modules.chunks_exact(side).enumerate() {
        for (x, _) in row.iter().enumerate().filter(|(_, dark)| **dark) {
            let (line, bit) = if transposed { (x, y) } else { (y, x) };
            if let Some(slot) = lines.get_mut(line) {
                *slot |= 1 << bit;
            }
        }
    }
    lines
}

/// The modules `mask` inverts along row `i` (or column `i` when `transposed`), packed as [`pack`] does.
/// Every mask repeats along a line with a period dividing 12 (6 along rows, 4 or 6 along columns), so
/// twelve bits are computed and repeated.
fn pattern_line(mask: u8, i: usize, side: usize, transposed: bool) -> u128 {
    let mut period: u128 = 0;
    for j in 0..12 {
        let (x, y) = if transposed { (i, j) } else { (j, i) };
        if inverts(mask, x, y) {
            period |= 1 << j;
        }
    }
    let mut line = period;
    let mut width = 12;
    while width < 128 {
        line |= line << width;
        width *= 2;
    }
    line & ones(side)
}

fn ones(width: usize) -> u128 {
    if width >= 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    }
}

/// The total penalty of a masked symbol, given as rows and as columns.
fn penalty(rows: &[u128; MAX_PACKED_SIDE], columns: &[u128; MAX_PACKED_SIDE], side: usize) -> u32 {
    let mut score = 0;
    for lines in [rows, columns] {
        for line in lines.iter().take(side) {
            score += runs_and_finders(*line, side);
        }
    }
    // N2: 2×2 blocks of one colour, overlapping blocks counted each.
    let pairs = ones(side.saturating_sub(1));
    for pair in rows.get(..side).unwrap_or_default().windows(2) {
        if let [upper, lower] = pair {
            let same = !(upper ^ (upper >> 1)) & !(lower ^ (lower >> 1)) & !(upper ^ lower) & pairs;
            score += N2 * same.count_ones();
        }
    }
    // N4: balance of dark and light.
    let dark: u32 = rows.iter().take(side).map(|row| row.count_ones()).sum();
    let total = u32::try_from(side * side).unwrap_or(u32::MAX).max(1);
    let k = (dark * 20)
        .abs_diff(total * 10)
        .div_ceil(total)
        .saturating_sub(1);
    score + k * N4
}

/// N1 (runs of five or more of one colour) and N3 (1:1:3:1:1 finder-like patterns with four light
/// modules on one side, the outside of the symbol counting as light) along one line.
fn runs_and_finders(line: u128, side: usize) -> u32 {
    let pairs = ones(side.saturating_sub(1));
    let equal = !(line ^ (line >> 1)) & pairs;
    let five = equal & (equal >> 1) & (equal >> 2) & (equal >> 3);
    let runs = five & !(five << 1);
    let score = five.count_ones() + (N1 - 1) * runs.count_ones();

    // Four light modules beyond each end, as the quiet zone is.
    let dark = line << 4;
    let light = !dark & ones(side + 8);
    // Bit i: modules i to i + 6 are dark, light, dark, dark, dark, light, dark.
    let core =
        dark & (light >> 1) & (dark >> 2) & (dark >> 3) & (dark >> 4) & (light >> 5) & (dark >> 6);
    // Bit i: modules i to i + 3 are light.
    let four_light = light & (light >> 1) & (light >> 2) & (light >> 3);
    let before = four_light & (core >> 4);
    let after = core & (four_light >> 7);
    score + N3 * (before.count_ones() + after.count_ones())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The penalty rules as written, one module at a time: the reference the packed scorer must equal.
    fn reference_penalty(modules: &[bool], side: usize) -> u32 {
        let at = |x: usize, y: usize| modules[y * side + x];
        let mut score = 0;
        for transposed in [false, true] {
            for i in 0..side {
                let line: Vec<bool> = (0..side)
                    .map(|j| if transposed { at(i, j) } else { at(j, i) })
                    .collect();
                let mut run = 1;
                for j in 1..=side {
                    if j < side && line[j] == line[j - 1] {
                        run += 1;
                    } else {
                        if run >= 5 {
                            score += N1 + (run - 5);
                        }
                        run = 1;
                    }
                }
                let mut padded = vec![false; 4];
                padded.extend(&line);
                padded.extend([false; 4]);
                let core = [true, false, true, true, true, false, true];
                for start in 0..padded.len() - 10 {
                    let window = &padded[start..start + 11];
                    let light = |range: core::ops::Range<usize>| window[range].iter().all(|m| !m);
                    if window[4..] == core && light(0..4) {
                        score += N3;
                    }
                    if window[..7] == core && light(7..11) {
                        score += N3;
                    }
                }
            }
        }
        for y in 0..side - 1 {
            for x in 0..side - 1 {
                let c = at(x, y);
                if at(x + 1, y) == c && at(x, y + 1) == c && at(x + 1, y + 1) == c {
                    score += N2;
                }
            }
        }
        let dark = modules.iter().filter(|m| **m).count() as u32;
        let total = (side * side) as u32;
        let k = (dark * 20).abs_diff(total * 10).div_ceil(total) - 1;
        score + k * N4
    }

    fn qrcodegen(text: &str, mask: Option<u8>) -> (Vec<bool>, usize, u8) {
        let segments = [qrcodegen::QrSegment::make_alphanumeric(text)];
        let qr = qrcodegen::QrCode::encode_segments_advanced(
            &segments,
            qrcodegen::QrCodeEcc::Quartile,
            qrcodegen::Version::MIN,
            qrcodegen::Version::MAX,
            mask.map(qrcodegen::Mask::new),
            false,
        )
        .unwrap();
        let side = qr.size() as usize;
        let modules = (0..side * side)
            .map(|i| qr.get_module((i % side) as i32, (i / side) as i32))
            .collect();
        (modules, side, qr.mask().value())
    }

    #[test]
    fn packed_penalty_equals_the_rules_as_written() {
        for len in [10, 80, 300, 600, 1000] {
            let text = crate::qr::hc1_like(len);
            let (modules, side, _) = qrcodegen(&text, Some(3));
            let rows = pack(&modules, side, false);
            let columns = pack(&modules, side, true);
            assert_eq!(
                penalty(&rows, &columns, side),
                reference_penalty(&modules, side),
                "{len} characters"
            );
        }
    }

    #[test]
    fn every_mask_gives_the_symbol_qrcodegen_builds_with_that_mask() {
        for len in [10, 150, 600, 1100] {
            let text = crate::qr::hc1_like(len);
            let (mut modules, side, _) = qrcodegen(&text, Some(0));
            let chosen = choose_mask(&mut modules, side);
            let (expected, _, _) = qrcodegen(&text, Some(chosen));
            assert_eq!(modules, expected, "{len} characters, mask {chosen}");
        }
    }

    #[test]
    fn the_chosen_mask_has_the_least_penalty() {
        for len in [40, 350, 600, 900] {
            let text = crate::qr::hc1_like(len);
            let (mut modules, side, _) = qrcodegen(&text, Some(0));
            let chosen = choose_mask(&mut modules, side);
            let chosen_score = reference_penalty(&modules, side);
            for mask in 0..8 {
                let (other, _, _) = qrcodegen(&text, Some(mask));
                assert!(
                    chosen_score <= reference_penalty(&other, side),
                    "{len} characters: mask {chosen} scored above mask {mask}"
                );
            }
        }
    }
}
