//! QR reading: any bytes fail with a picture error or yield text, and never panic or exceed the limits.
#![no_main]

use hcert::{ImageLimits, QrError, RenderOptions, read_qr, render_png};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match read_qr(data, &ImageLimits::DEFAULT) {
        Ok(text) => {
            // What was read re-renders (when it is alphanumeric) and reads back to the same text.
            if let Ok(picture) = render_png(&text, &RenderOptions::DEFAULT) {
                assert_eq!(
                    read_qr(&picture, &ImageLimits::DEFAULT).as_deref(),
                    Ok(text.as_str())
                );
            }
        }
        Err(QrError::TooLarge { actual, max, .. }) => assert!(actual > max),
        Err(QrError::UnsupportedFormat | QrError::Undecodable | QrError::NotFound) => {}
        Err(other) => panic!("reading produced a rendering error: {other:?}"),
    }
});
