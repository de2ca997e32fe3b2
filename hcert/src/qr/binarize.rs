//! Local thresholds, as rxing's `HybridBinarizer` computes them, in a fraction of its time: the same
//! black points and the same matrix, read straight from the luma slice and written a word of bits at a
//! time.

use std::borrow::Cow;
use std::sync::OnceLock;

use rxing::common::{BitArray, BitMatrix, GlobalHistogramBinarizer, LineOrientation, Result};
use rxing::{Binarizer, LuminanceSource};

/// Side of the square blocks that each get one black point.
const BLOCK: usize = 8;

/// Pictures narrower or shorter than this (5 blocks) get the global histogram's matrix instead.
const MIN_SIDE: usize = 5 * BLOCK;

/// A block whose luma spans no more than this is taken to be all light or all dark.
const MIN_DYNAMIC_RANGE: u8 = 24;

/// rxing's `HybridBinarizer` with a faster [`Binarizer::get_black_matrix`] of bit-for-bit the same
/// result. Rows and lines for 1D readers come from a `GlobalHistogramBinarizer`, as in rxing.
pub(super) struct LocalThreshold<LS: LuminanceSource> {
    /// Rows, lines, the source, and the matrix of pictures too small for blocks.
    global: GlobalHistogramBinarizer<LS>,
    /// The matrix, computed on first request.
    matrix: OnceLock<BitMatrix>,
}

impl<LS: LuminanceSource> LocalThreshold<LS> {
    /// A binarizer of `source`; nothing is computed before it is asked for.
    pub(super) fn new(source: LS) -> Self {
        Self {
            global: GlobalHistogramBinarizer::new(source),
            matrix: OnceLock::new(),
        }
    }

    /// The black matrix of the whole picture.
    fn compute(&self) -> Result<BitMatrix> {
        let source = self.global.get_luminance_source();
        let (width, height) = (source.get_width(), source.get_height());
        if width < MIN_SIDE || height < MIN_SIDE {
            return self.global.get_black_matrix().cloned();
        }
        let luma = source.get_matrix();
        let sub_width = width.div_ceil(BLOCK);
        let black_points = black_points(&luma, width, sub_width);
        let thresholds = thresholds(&black_points, sub_width);
        threshold_pixels(&luma, width, height, &thresholds, sub_width)
    }
}

impl<LS: LuminanceSource> Binarizer for LocalThreshold<LS> {
    type Source = LS;

    fn get_luminance_source(&self) -> &LS {
        self.global.get_luminance_source()
    }

    fn get_black_row(&self, y: usize) -> Result<Cow<'_, BitArray>> {
        self.global.get_black_row(y)
    }

    fn get_black_row_from_matrix(&self, y: usize) -> Result<Cow<'_, BitArray>> {
        match (self.matrix.get(), u32::try_from(y)) {
            (Some(matrix), Ok(y)) => Ok(Cow::Owned(matrix.getRow(y))),
            _ => self.get_black_row(y),
        }
    }

    fn get_black_matrix(&self) -> Result<&BitMatrix> {
        if let Some(matrix) = self.matrix.get() {
            return Ok(matrix);
        }
        let matrix = self.compute()?;
        Ok(self.matrix.get_or_init(|| matrix))
    }

    fn get_black_line(&self, l: usize, lt: LineOrientation) -> Result<Cow<'_, BitArray>> {
        self.global.get_black_line(l, lt)
    }

    fn create_binarizer(&self, source: LS) -> Self {
        Self::new(source)
    }

    fn get_width(&self) -> usize {
        self.global.get_width()
    }

    fn get_height(&self) -> usize {
        self.global.get_height()
    }
}

/// `items` cut into runs of `size`, the last run, if short, replaced by the last `size` items (so it
/// overlaps the one before): rxing's blocks along either axis.
fn blocks<T>(items: &[T], size: usize) -> impl Iterator<Item = &[T]> {
    let short_tail = !items.len().is_multiple_of(size);
    let tail = items
        .len()
        .checked_sub(size)
        .filter(|_| short_tail)
        .and_then(|start| items.get(start..));
    items.chunks_exact(size).chain(tail)
}

/// One black point a block, row by row: the block's mean, or, for a block of little contrast, half its
/// darkest pixel, raised to its neighbours' black point when its darkest pixel is darker than that.
fn black_points(luma: &[u8], width: usize, sub_width: usize) -> Vec<u32> {
    let mut points: Vec<u32> = Vec::with_capacity(sub_width * luma.len().div_ceil(width * BLOCK));
    let mut sums = vec![0_u16; width];
    let mut mins = vec![0_u8; width];
    let mut maxes = vec![0_u8; width];
    let mut above: Vec<u32> = Vec::new();
    for block_rows in blocks(luma, width * BLOCK) {
        let mut rows = block_rows.chunks_exact(width);
        if let Some(first) = rows.next() {
            for (((sum, min), max), &pixel) in
                sums.iter_mut().zip(&mut mins).zip(&mut maxes).zip(first)
            {
                (*sum, *min, *max) = (u16::from(pixel), pixel, pixel);
            }
        }
        for row in rows {
            for (((sum, min), max), &pixel) in
                sums.iter_mut().zip(&mut mins).zip(&mut maxes).zip(row)
            {
                *sum += u16::from(pixel);
                *min = (*min).min(pixel);
                *max = (*max).max(pixel);
            }
        }
        let row_start = points.len();
        let columns = blocks(&sums, BLOCK)
            .zip(blocks(&mins, BLOCK))
            .zip(blocks(&maxes, BLOCK));
        for (x, ((sum, min), max)) in columns.enumerate() {
            let sum: u32 = sum.iter().map(|&s| u32::from(s)).sum();
            let min = min.iter().copied().min().unwrap_or(0);
            let max = max.iter().copied().max().unwrap_or(0);
            let mut point = sum >> 6;
            if max.abs_diff(min) <= MIN_DYNAMIC_RANGE {
                point = u32::from(min) / 2;
                let left = x.checked_sub(1);
                let neighbours = (
                    above.get(x),
                    left.and_then(|l| above.get(l)),
                    left.and_then(|l| points.get(row_start + l)),
                );
                if let (Some(&up), Some(&up_left), Some(&left)) = neighbours {
                    let neighbour_point = (up + 2 * left + up_left) / 4;
                    if u32::from(min) < neighbour_point {
                        point = neighbour_point;
                    }
                }
            }
            points.push(point);
        }
        above.clear();
        above.extend(points.get(row_start..).unwrap_or_default());
    }
    points
}

/// Each block's threshold: the mean black point of the 5×5 blocks around it, the window moved inwards
/// at the picture's edges.
fn thresholds(black_points: &[u32], sub_width: usize) -> Vec<u8> {
    let row_sums: Vec<Vec<u32>> = black_points
        .chunks_exact(sub_width)
        .map(|row| clamped_sums(row.windows(5).map(|w| w.iter().sum())))
        .collect();
    let column_sums = row_sums.windows(5).map(|rows| {
        rows.iter().fold(vec![0; sub_width], |mut acc, row| {
            acc.iter_mut().zip(row).for_each(|(a, r)| *a += r);
            acc
        })
    });
    clamped_sums(column_sums)
        .into_iter()
        .flatten()
        .map(|sum| u8::try_from(sum / 25).unwrap_or(u8::MAX))
        .collect()
}

/// The sums of each 5-wide window, the first and last repeated twice more: one sum per position, the
/// window of a position within 2 of an edge being the one at that edge.
fn clamped_sums<T: Clone>(windows: impl Iterator<Item = T>) -> Vec<T> {
    let sums: Vec<T> = windows.collect();
    let first = sums.first().cloned().into_iter().cycle().take(2);
    let last = sums.last().cloned().into_iter().cycle().take(2);
    first.chain(sums.iter().cloned()).chain(last).collect()
}

/// The matrix: a pixel is black when its luma is at most its block's threshold. Where the last block
/// of a row or column overlaps the one before, both have the same threshold (their 5×5 windows are the
/// same), so which of them a pixel is taken from does not matter.
fn threshold_pixels(
    luma: &[u8],
    width: usize,
    height: usize,
    thresholds: &[u8],
    sub_width: usize,
) -> Result<BitMatrix> {
    let mut matrix = BitMatrix::new(to_u32(width)?, to_u32(height)?)?;
    let word_bits = usize::BITS as usize;
    let mut bits = BitArray::with_size(width);
    let mut row_thresholds = Vec::with_capacity(width);
    let mut y = 0;
    let mut mask = Vec::with_capacity(width);
    let block_rows = thresholds.chunks_exact(sub_width);
    for (block_row, rows) in block_rows.zip(luma.chunks(width * BLOCK)) {
        row_thresholds.clear();
        let spread = block_row
            .iter()
            .flat_map(|&t| std::iter::repeat_n(t, BLOCK));
        row_thresholds.extend(spread.take(width));
        for row in rows.chunks_exact(width) {
            mask.clear();
            mask.extend(
                row.iter()
                    .zip(&row_thresholds)
                    .map(|(p, t)| u8::from(p <= t)),
            );
            for (i, pixels) in mask.chunks(word_bits).enumerate() {
                let word = pixels.chunks(8).enumerate().fold(0, |word, (k, bytes)| {
                    word | usize::from(gather(bytes)) << (8 * k)
                });
                bits.setBulk(i * word_bits, word);
            }
            matrix.setRow(y, &bits);
            y += 1;
        }
    }
    Ok(matrix)
}

/// Up to 8 bytes of 0 or 1 as the bits of a byte, the first byte the lowest bit: one multiplication
/// moves byte `i` to bit `56 + i`, without carries.
fn gather(bytes: &[u8]) -> u8 {
    let mut padded = [0; 8];
    padded.iter_mut().zip(bytes).for_each(|(p, &b)| *p = b);
    let spread = u64::from_le_bytes(padded).wrapping_mul(0x0102_0408_1020_4080);
    spread.to_be_bytes().first().copied().unwrap_or(0)
}

/// A picture side as rxing wants it.
fn to_u32(side: usize) -> Result<u32> {
    u32::try_from(side)
        .map_err(|_| rxing::Exceptions::illegal_argument_with("picture side beyond u32"))
}

#[cfg(test)]
mod tests {
    use image::GrayImage;
    use image::imageops::{FilterType, resize};
    use proptest::prelude::*;
    use rxing::Luma8Source;
    use rxing::common::HybridBinarizer;

    use super::*;
    use crate::qr::{RenderOptions, hc1_like, render_png};

    /// Ours and rxing's matrices of `luma` (`width` pixels a row) must be equal, bit for bit.
    fn check(luma: &[u8], width: u32, height: u32) {
        let source = || Luma8Source::new_with_slice(luma, width, height).unwrap();
        let ours = LocalThreshold::new(source());
        let theirs = HybridBinarizer::new(source());
        match (ours.get_black_matrix(), theirs.get_black_matrix()) {
            (Ok(ours), Ok(theirs)) => assert!(ours == theirs, "{width}×{height}"),
            (ours, theirs) => assert_eq!(ours.is_ok(), theirs.is_ok(), "{width}×{height}"),
        }
    }

    fn check_image(image: &GrayImage) {
        check(image.as_raw(), image.width(), image.height());
    }

    fn render(module_px: u32) -> GrayImage {
        let options = RenderOptions {
            module_px,
            ..RenderOptions::DEFAULT
        };
        let png = render_png(&hc1_like(300), &options).unwrap();
        image::load_from_memory(&png).unwrap().into_luma8()
    }

    /// Deterministic pseudo-random bytes (xorshift).
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 32) as u8
            })
            .collect()
    }

    /// A code lit from one side, with camera-like noise, and low contrast.
    fn photo_like(code: &GrayImage, seed: u64) -> GrayImage {
        let grain = noise((code.width() * code.height()) as usize, seed);
        GrayImage::from_fn(code.width(), code.height(), |x, y| {
            let p = f64::from(code.get_pixel(x, y).0[0]);
            let light = 0.35 + 0.6 * f64::from(x) / f64::from(code.width());
            let g = f64::from(grain[(y * code.width() + x) as usize]) / 255.0 - 0.5;
            image::Luma([(40.0 + p * 0.6 * light + g * 30.0).clamp(0.0, 255.0) as u8])
        })
    }

    #[test]
    fn rendered_codes() {
        for module_px in [1, 2, 3, 5] {
            check_image(&render(module_px));
        }
    }

    #[test]
    fn scaled_noisy_and_unevenly_lit_codes() {
        let code = render(4);
        for (i, side) in [41, 57, 99, 123, 200, 333, 479, 640]
            .into_iter()
            .enumerate()
        {
            let scaled = resize(&code, side, side * 3 / 4 + 1, FilterType::Triangle);
            check_image(&scaled);
            check_image(&photo_like(&scaled, i as u64));
        }
    }

    #[test]
    fn flat_pictures() {
        for value in [0, 1, 24, 128, 255] {
            check(&vec![value; 67 * 45], 67, 45);
        }
    }

    #[test]
    fn noise_at_awkward_sizes() {
        let sizes = [
            (40, 40),
            (41, 40),
            (40, 47),
            (63, 65),
            (64, 64),
            (65, 97),
            (100, 39),
        ];
        for (i, (width, height)) in sizes.into_iter().enumerate() {
            check(&noise((width * height) as usize, i as u64), width, height);
        }
    }

    #[test]
    fn small_and_thin_pictures() {
        for (width, height) in [
            (1, 1),
            (1, 300),
            (300, 1),
            (39, 39),
            (39, 200),
            (200, 39),
            (8, 8),
        ] {
            check(&noise((width * height) as usize, 7), width, height);
        }
    }

    proptest! {
        /// Tiles of random levels (flat, low-contrast blocks beside dark and light ones) under noise of
        /// random amplitude.
        #[test]
        fn equals_rxing(
            width in 1_u32..300,
            height in 1_u32..300,
            tile in 1_u32..40,
            amplitude in 0_u8..=255,
            seed in any::<u64>(),
        ) {
            let levels = noise(((width / tile + 1) * (height / tile + 1)) as usize, seed);
            let grain = noise((width * height) as usize, seed.rotate_left(17));
            let luma: Vec<u8> = (0..height)
                .flat_map(|y| (0..width).map(move |x| (x, y)))
                .zip(grain)
                .map(|((x, y), g)| {
                    let level = levels[((y / tile) * (width / tile + 1) + x / tile) as usize];
                    level.saturating_add(g % amplitude.saturating_add(1))
                })
                .collect();
            check(&luma, width, height);
        }
    }
}
