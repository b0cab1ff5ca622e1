//! Posters (issue 24, G8): a moderator uploads a PNG, JPEG or WebP picture; it is decoded under `images`'
//! limits, scaled to each size the API offers (never up), re-encoded as JPEG and stored through the storage
//! layer (a folder or S3) under a key never used before, so the files can be cached for good. A movie without
//! one gets a generated poster: an SVG of its title over its genres' colours, so that the demo catalog looks
//! like a cinema.

use async_graphql::{Enum, SimpleObject};
use bytes::Bytes;
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;

use crate::catalog::models::MovieRow;
use crate::catalog::repo;
use crate::db::{Db, now};
use crate::error::{AppError, AppResult};
use crate::images;
use crate::storage::Storage;
use crate::util::random_token;

/// Largest poster file accepted, in bytes (the upload's body limit is about as large).
pub const MAX_POSTER_BYTES: usize = 3 * 1024 * 1024;
/// JPEG quality of the stored sizes.
const JPEG_QUALITY: u8 = 85;
/// Height over width of a generated poster (the usual 2:3 one-sheet).
const GENERATED_RATIO: f64 = 1.5;

/// The sizes a poster is offered in, by width in pixels.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PosterSize {
    /// 342 pixels wide: for lists.
    Small,
    /// 780 pixels wide: for a movie's page.
    Large,
}

impl PosterSize {
    pub const ALL: [PosterSize; 2] = [PosterSize::Small, PosterSize::Large];

    pub fn width(self) -> u32 {
        match self {
            PosterSize::Small => 342,
            PosterSize::Large => 780,
        }
    }
}

/// A poster at one size.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct Poster {
    /// Where the picture is served (long-cached: a new upload gets a new address).
    pub url: String,
    pub width: i32,
    pub height: i32,
    /// True for the poster made from the title and genres of a movie with none uploaded.
    pub generated: bool,
}

/// The posters handle: cheap to clone.
#[derive(Clone)]
pub struct Posters {
    db: Db,
    storage: Storage,
    public_url: String,
}

fn no_such_movie() -> AppError {
    AppError::not_found("no movie has this id")
}

fn storage_unavailable(error: anyhow::Error) -> AppError {
    tracing::warn!(error = format!("{error:#}"), "could not store a poster");
    AppError::Unavailable("file storage is unavailable; try again later".into())
}

impl Posters {
    pub fn new(db: Db, storage: Storage, public_url: &str) -> Posters {
        Posters {
            db,
            storage,
            public_url: public_url.trim_end_matches('/').to_string(),
        }
    }

    /// The poster of `movie` at `size`: the uploaded one, or the generated one.
    pub fn of(&self, movie: &MovieRow, size: PosterSize) -> Poster {
        match (&movie.poster_key, movie.poster_width, movie.poster_height) {
            (Some(key), Some(width), Some(height)) if width > 0 && height > 0 => {
                let (scaled_width, scaled_height) = scaled(width as u32, height as u32, size.width());
                Poster {
                    url: format!("{}/media/{}", self.public_url, file_key(key, size)),
                    width: scaled_width as i32,
                    height: scaled_height as i32,
                    generated: false,
                }
            }
            _ => Poster {
                url: format!("{}/posters/generated/{}.svg", self.public_url, movie.uuid),
                width: size.width() as i32,
                height: (f64::from(size.width()) * GENERATED_RATIO).round() as i32,
                generated: true,
            },
        }
    }

    /// Stores `bytes` as the poster of the movie `uuid` in every size, then points the movie at it and removes
    /// the files of the poster it had. The files are written before the movie changes, so a failure leaves the
    /// old poster.
    pub async fn upload(&self, uuid: &str, bytes: Bytes) -> AppResult<MovieRow> {
        if bytes.len() > MAX_POSTER_BYTES {
            return Err(AppError::bad_input(
                "file",
                format!("the poster is larger than {} MiB", MAX_POSTER_BYTES / (1024 * 1024)),
            ));
        }
        let mut conn = self.db.conn().await?;
        repo::movie_by_uuid(&mut conn, uuid).await?.ok_or_else(no_such_movie)?;
        drop(conn);
        let sized = tokio::task::spawn_blocking(move || sizes(&bytes))
            .await
            .map_err(AppError::internal)??;
        let key = format!("posters/{uuid}/{}", random_token(8));
        for (size, file) in sized.files {
            self.storage
                .put(&file_key(&key, size), file)
                .await
                .map_err(storage_unavailable)?;
        }
        self.point_at(uuid, Some((&key, sized.width, sized.height))).await
    }

    /// Takes the movie's poster away (it shows the generated one again).
    pub async fn remove(&self, uuid: &str) -> AppResult<MovieRow> {
        self.point_at(uuid, None).await
    }

    async fn point_at(&self, uuid: &str, poster: Option<(&str, i32, i32)>) -> AppResult<MovieRow> {
        let at = now();
        let (previous, movie) = self
            .db
            .transaction(async |conn| {
                // Locked: of two uploads at once, the second sees the first's files and removes them.
                let movie = repo::movie_locked(conn, uuid).await?.ok_or_else(no_such_movie)?;
                let updated = repo::set_poster(conn, movie.id, poster, at).await?;
                Ok((movie.poster_key, updated))
            })
            .await?;
        // Best effort: a file left behind costs storage, not correctness (nothing points at it).
        if let Some(previous) = previous {
            for size in PosterSize::ALL {
                if let Err(error) = self.storage.delete(&file_key(&previous, size)).await {
                    tracing::warn!(%error, key = %previous, "could not delete a previous poster");
                }
            }
        }
        Ok(movie)
    }

    /// The generated poster of the movie `uuid`, as SVG; None for no such movie.
    pub async fn generated(&self, uuid: &str) -> AppResult<Option<String>> {
        let mut conn = self.db.conn().await?;
        let Some(movie) = repo::movie_by_uuid(&mut conn, uuid).await? else {
            return Ok(None);
        };
        let genres = repo::genres_of_movies(&mut conn, &[movie.id]).await?;
        let names: Vec<String> = genres
            .get(&movie.id)
            .map(|genres| genres.iter().map(|genre| genre.name.clone()).collect())
            .unwrap_or_default();
        Ok(Some(generated_svg(&movie.name, movie.year, &names)))
    }
}

/// The stored file of a poster's `size`.
fn file_key(key: &str, size: PosterSize) -> String {
    format!("{key}-{}.jpg", size.width())
}

/// `width` × `height` scaled to at most `target` wide, keeping the ratio; never scaled up.
fn scaled(width: u32, height: u32, target: u32) -> (u32, u32) {
    if width <= target {
        return (width, height);
    }
    let height = (f64::from(height) * f64::from(target) / f64::from(width))
        .round()
        .max(1.0) as u32;
    (target, height)
}

/// An upload decoded and encoded at every size.
struct Sized {
    width: i32,
    height: i32,
    files: Vec<(PosterSize, Bytes)>,
}

fn sizes(bytes: &[u8]) -> AppResult<Sized> {
    let decoded = images::decode(bytes, "poster")?;
    let image = decoded.image;
    let mut files = Vec::new();
    for size in PosterSize::ALL {
        let (width, height) = scaled(image.width(), image.height(), size.width());
        let picture = if width == image.width() {
            image.to_rgb8()
        } else {
            image.resize_exact(width, height, FilterType::Lanczos3).to_rgb8()
        };
        let mut out = Vec::new();
        picture
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY))
            .map_err(AppError::internal)?;
        files.push((size, Bytes::from(out)));
    }
    Ok(Sized {
        width: image.width() as i32,
        height: image.height() as i32,
        files,
    })
}

/// Text safe inside SVG (XML) text and attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A hue for a genre, the same every time (FNV-1a of its name).
fn hue(name: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in name.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % 360
}

/// The title in lines of at most `width` characters, broken between words (a longer word stands alone), at
/// most `max_lines` of them (the last one ends with an ellipsis when text is left).
fn wrap(title: &str, width: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in title.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            last.push('…');
        }
    }
    lines
}

/// The generated poster: the genres' colours top to bottom, the title, the year and the genres.
pub fn generated_svg(title: &str, year: i32, genres: &[String]) -> String {
    let width = PosterSize::Large.width();
    let height = (f64::from(width) * GENERATED_RATIO).round() as u32;
    let top = genres.first().map_or(220, |genre| hue(genre));
    let bottom = genres.get(1).map_or((top + 40) % 360, |genre| hue(genre));
    let mut title_lines = String::new();
    for (index, line) in wrap(title, 16, 5).iter().enumerate() {
        let y = 640 + index * 84;
        title_lines.push_str(&format!(
            r##"<text x="60" y="{y}" font-family="Georgia, 'Times New Roman', serif" font-size="72" font-weight="bold" fill="#ffffff">{}</text>"##,
            escape(line)
        ));
    }
    let caption = escape(
        &std::iter::once(year.to_string())
            .chain(genres.iter().take(3).cloned())
            .collect::<Vec<_>>()
            .join(" · "),
    );
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{label}"><defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="hsl({top}, 55%, 38%)"/><stop offset="1" stop-color="hsl({bottom}, 60%, 12%)"/></linearGradient></defs><rect width="{width}" height="{height}" fill="url(#g)"/><rect x="40" y="40" width="{frame_width}" height="{frame_height}" fill="none" stroke="#ffffff" stroke-opacity="0.35" stroke-width="4"/>{title_lines}<text x="60" y="{caption_y}" font-family="Helvetica, Arial, sans-serif" font-size="34" fill="#ffffff" fill-opacity="0.85">{caption}</text></svg>"##,
        label = escape(title),
        frame_width = width - 80,
        frame_height = height - 80,
        caption_y = height - 90,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_keep_the_ratio_and_never_grow() {
        assert_eq!(scaled(2000, 3000, 780), (780, 1170));
        assert_eq!(scaled(2000, 3000, 342), (342, 513));
        assert_eq!(scaled(300, 450, 780), (300, 450), "not scaled up");
    }

    #[test]
    fn a_generated_poster_escapes_the_title_and_wraps_it() {
        let svg = generated_svg(
            "<script>alert(1)</script> & \"The Longest Title Anyone Ever Gave A Film\"",
            1999,
            &["Drama".into(), "Crime".into()],
        );
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(svg.contains("1999 · Drama · Crime"));
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert_eq!(wrap("a bb ccc dddd", 6, 5), ["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("one two three four", 3, 2), ["one", "two…"]);
        assert_eq!(hue("Drama"), hue("Drama"));
    }
}
