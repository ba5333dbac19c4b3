//! The colour transparent images are composited onto (the `background` key).

use image::{DynamicImage, Rgb32FImage};

use crate::error::{GanError, Result};

/// An sRGB colour, 8 bits a channel, spelled `white`, `black` or `#rrggbb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Background(pub [u8; 3]);

impl Background {
    pub const WHITE: Background = Background([255, 255, 255]);
    pub const BLACK: Background = Background([0, 0, 0]);

    /// An image without alpha, the colours of `image` over this background: for each channel
    /// out = a·c + (1 − a)·bg, in the stored (gamma-encoded) sRGB values, not linear light. That
    /// is what browsers and image viewers do with a PNG, so the images train as they look where
    /// they were drawn (an emoji's anti-aliased rim was tuned for it), and a value stays an
    /// affine function of its inputs that a test can compute by hand. Images without alpha are
    /// returned as they are.
    pub fn composite(self, image: DynamicImage) -> DynamicImage {
        if !image.color().has_alpha() {
            return image;
        }
        let bg = self.0.map(|v| v as f32 / 255.0);
        let rgba = image.to_rgba32f();
        let flat = Rgb32FImage::from_fn(rgba.width(), rgba.height(), |x, y| {
            let [r, g, b, a] = rgba.get_pixel(x, y).0;
            let over = |c: f32, bg: f32| a * c + (1.0 - a) * bg;
            image::Rgb([over(r, bg[0]), over(g, bg[1]), over(b, bg[2])])
        });
        DynamicImage::ImageRgb32F(flat)
    }
}

/// White: how an emoji or a transparent PNG shows on a page.
impl Default for Background {
    fn default() -> Self {
        Background::WHITE
    }
}

/// `white`, `black`, or `#rrggbb` for any other colour: what `config.toml` records.
impl std::fmt::Display for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Background::WHITE => f.write_str("white"),
            Background::BLACK => f.write_str("black"),
            Background([r, g, b]) => write!(f, "#{r:02x}{g:02x}{b:02x}"),
        }
    }
}

impl std::str::FromStr for Background {
    type Err = GanError;
    fn from_str(text: &str) -> Result<Self> {
        let bad = || {
            GanError::config(
                "background",
                format!(
                    "is `{text}`: it must be white, black or a colour as #rrggbb (e.g. #808080)"
                ),
            )
        };
        match text.trim().to_ascii_lowercase().as_str() {
            "white" => Ok(Background::WHITE),
            "black" => Ok(Background::BLACK),
            hex => {
                let digits = hex.strip_prefix('#').ok_or_else(bad)?;
                if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(bad());
                }
                let channel =
                    |i: usize| u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).map_err(|_| bad());
                Ok(Background([channel(0)?, channel(1)?, channel(2)?]))
            }
        }
    }
}

impl serde::Serialize for Background {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Background {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
