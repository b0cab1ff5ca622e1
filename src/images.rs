//! Pictures people upload (avatars, posters): recognised by their content, never by a name or a declared type,
//! and decoded under limits, so that a small file declaring a huge picture (a decompression bomb) is refused
//! before it takes the memory. What is stored is always re-encoded from the decoded pixels, so metadata (EXIF
//! positions, text chunks) and trailing bytes never survive.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use crate::error::{AppError, AppResult};

/// Largest width or height accepted, in pixels.
pub const MAX_SIDE: u32 = 4096;
/// Most memory a decode may take.
const MAX_DECODE_BYTES: u64 = 64 * 1024 * 1024;

/// A decoded upload, with the format its bytes were in.
pub struct Decoded {
    pub image: DynamicImage,
    pub format: ImageFormat,
    /// The file extension of that format: `png`, `jpg` or `webp`.
    pub extension: &'static str,
}

/// Decodes `bytes` as a PNG, JPEG or WebP picture; BAD_USER_INPUT on `file` (naming `what`) for anything else,
/// or for a picture larger than `MAX_SIDE` on a side.
pub fn decode(bytes: &[u8], what: &str) -> AppResult<Decoded> {
    let not_an_image = || AppError::bad_input("file", format!("the {what} must be a PNG, JPEG or WebP image"));
    let Some((extension, _)) = crate::storage::image_type(bytes) else {
        return Err(not_an_image());
    };
    let format = match extension {
        "png" => ImageFormat::Png,
        "jpg" => ImageFormat::Jpeg,
        _ => ImageFormat::WebP,
    };
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let image = reader.decode().map_err(|error| match error {
        image::ImageError::Limits(_) => AppError::bad_input(
            "file",
            format!("the {what} is larger than {MAX_SIDE}x{MAX_SIDE} pixels"),
        ),
        _ => not_an_image(),
    })?;
    Ok(Decoded {
        image,
        format,
        extension,
    })
}
