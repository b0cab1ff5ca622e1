//! Avatar images: decoded under `images`' limits and re-encoded in their own format, so that what is stored and
//! served holds the picture and nothing else — no EXIF (camera, GPS position), no text chunks, no trailing data.

use bytes::Bytes;
use image::ImageFormat;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;

use crate::error::{AppError, AppResult};
use crate::images;

/// JPEG quality of the re-encoded file.
const JPEG_QUALITY: u8 = 88;

/// The image re-encoded in its own format, and the file extension it is stored under. Runs on the blocking
/// pool (decoding is CPU work).
pub async fn clean(bytes: Bytes) -> AppResult<(Bytes, &'static str)> {
    tokio::task::spawn_blocking(move || clean_now(&bytes))
        .await
        .map_err(AppError::internal)?
}

fn clean_now(bytes: &[u8]) -> AppResult<(Bytes, &'static str)> {
    let images::Decoded {
        image,
        format,
        extension,
    } = images::decode(bytes, "avatar")?;
    let mut out = Vec::new();
    let written = match format {
        ImageFormat::Png => image.write_with_encoder(PngEncoder::new(&mut out)),
        ImageFormat::Jpeg => image
            .to_rgb8()
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)),
        _ => image.to_rgba8().write_with_encoder(WebPEncoder::new_lossless(&mut out)),
    };
    written.map_err(AppError::internal)?;
    Ok((Bytes::from(out), extension))
}

#[cfg(test)]
mod tests {
    use image::{ImageEncoder, RgbImage};

    use super::*;

    fn jpeg_with_exif() -> Vec<u8> {
        let mut plain = Vec::new();
        JpegEncoder::new(&mut plain)
            .write_image(RgbImage::new(4, 4).as_raw(), 4, 4, image::ExtendedColorType::Rgb8)
            .unwrap();
        // An APP1 (EXIF) segment right after the start marker, as cameras write it.
        let payload = b"Exif\0\0GPS 48.8584N 2.2945E secret-location";
        let mut with_exif = plain[..2].to_vec();
        with_exif.extend_from_slice(&[0xFF, 0xE1]);
        with_exif.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        with_exif.extend_from_slice(payload);
        with_exif.extend_from_slice(&plain[2..]);
        with_exif
    }

    #[test]
    fn metadata_does_not_survive() {
        let original = jpeg_with_exif();
        assert!(original.windows(15).any(|w| w == b"secret-location"));
        let (cleaned, extension) = clean_now(&original).unwrap();
        assert_eq!(extension, "jpg");
        assert!(cleaned.starts_with(&[0xFF, 0xD8, 0xFF]));
        assert!(!cleaned.windows(15).any(|w| w == b"secret-location"), "EXIF kept");
        image::load_from_memory(&cleaned).expect("still an image");
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for byte in bytes {
            crc ^= u32::from(*byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn bombs_and_fakes_are_refused() {
        // A valid 1x1 PNG whose header is rewritten to declare 100,000 x 100,000 pixels (with a correct CRC).
        let mut png = Vec::new();
        PngEncoder::new(&mut png)
            .write_image(&[0u8; 1], 1, 1, image::ExtendedColorType::L8)
            .unwrap();
        png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        let refused = clean_now(&png).unwrap_err();
        assert_eq!(refused.code(), "BAD_USER_INPUT");
        assert!(
            refused.public_message().contains("pixels"),
            "{}",
            refused.public_message()
        );
        assert_eq!(
            clean_now(b"\x89PNG\r\n\x1a\nnot really").unwrap_err().code(),
            "BAD_USER_INPUT"
        );
        assert_eq!(clean_now(b"GIF89a").unwrap_err().code(), "BAD_USER_INPUT");
    }
}
