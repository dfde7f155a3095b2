//! The bundled sample database: a small shop (customers, products, orders, order items),
//! generated deterministically in code on first run, so the server works with nothing else
//! installed.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{Connection, SqliteConnection};

use crate::error::SqlError;

/// File name of the sample database; the version changes when its content does.
pub const SAMPLE_FILE: &str = "sample-shop-v1.sqlite";

/// Customers in the sample.
pub(crate) const CUSTOMERS: usize = 500;
/// Products in the sample.
pub(crate) const PRODUCTS: usize = 120;
/// Orders in the sample.
pub(crate) const ORDERS: usize = 2_000;

/// The directory used when no `--data-dir` is given: the user's data directory, else the
/// system temporary directory.
pub fn default_data_dir() -> PathBuf {
    dirs::data_local_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("canopy-sql")
}

/// Creates the sample database in `data_dir` unless it is already there; returns its path.
///
/// It is written to a temporary file and renamed into place, so a reader never sees half a
/// database and two servers starting at once do not clash.
pub async fn ensure_sample(data_dir: &Path) -> Result<PathBuf, SqlError> {
    let path = data_dir.join(SAMPLE_FILE);
    if path.exists() {
        return Ok(path);
    }
    let fail = |reason: String| SqlError::Sample {
        path: path.display().to_string(),
        reason,
    };
    std::fs::create_dir_all(data_dir).map_err(|e| fail(e.to_string()))?;
    let tmp = data_dir.join(format!("{SAMPLE_FILE}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", tmp.display()))
        .map_err(|e| fail(e.to_string()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Delete);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let built = build(&mut conn).await;
    let closed = conn.close().await;
    if let Err(e) = built.and(closed) {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e.to_string()));
    }
    std::fs::rename(&tmp, &path).map_err(|e| fail(e.to_string()))?;
    Ok(path)
}

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const FIRST: &[&str] = &[
    "Ada", "Bruno", "Chiara", "Dmitri", "Eun-ji", "Farah", "Gustavo", "Hana", "Ingrid", "José",
    "Kwame", "Lena", "Mateus", "Noor", "Olga", "Priya", "Quentin", "Rosa", "Søren", "Tomás", "Uma",
    "Viktor", "Wen", "Yara", "Zoë",
];
const LAST: &[&str] = &[
    "Almeida", "Berg", "Chen", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ivanova",
    "Jensen", "Kowalski", "Lopez", "Müller", "Nakamura", "Okafor", "Petrov", "Rossi", "Schmidt",
    "Tanaka", "Weiß",
];
const COUNTRIES: &[&str] = &[
    "DE", "FR", "US", "GB", "BR", "JP", "IN", "NG", "SE", "ES", "PL", "KR",
];
const SEGMENTS: &[&str] = &["consumer", "consumer", "consumer", "business", "education"];
const CATEGORIES: &[&str] = &[
    "books",
    "electronics",
    "garden",
    "kitchen",
    "toys",
    "sports",
];
const ADJECTIVES: &[&str] = &[
    "Classic", "Compact", "Deluxe", "Eco", "Pro", "Smart", "Ultra", "Vintage",
];
const NOUNS: &[&str] = &[
    "Lamp",
    "Kettle",
    "Backpack",
    "Notebook",
    "Speaker",
    "Puzzle",
    "Trowel",
    "Racket",
    "Blender",
    "Novel",
    "Headphones",
    "Planter",
    "Board Game",
    "Yoga Mat",
    "Skillet",
];
const STATUSES: &[&str] = &[
    "delivered",
    "delivered",
    "delivered",
    "delivered",
    "shipped",
    "pending",
    "cancelled",
    "refunded",
];

const SCHEMA: &str = "
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    country TEXT NOT NULL,
    segment TEXT NOT NULL,
    signed_up_at TEXT NOT NULL
);
CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    price NUMERIC NOT NULL,
    stock INTEGER NOT NULL,
    discontinued INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    ordered_at TEXT NOT NULL,
    status TEXT NOT NULL,
    shipping_country TEXT NOT NULL,
    coupon_code TEXT,
    total NUMERIC NOT NULL
);
CREATE TABLE order_items (
    order_id INTEGER NOT NULL REFERENCES orders(id),
    product_id INTEGER NOT NULL REFERENCES products(id),
    quantity INTEGER NOT NULL,
    unit_price NUMERIC NOT NULL,
    PRIMARY KEY (order_id, product_id)
);
CREATE INDEX orders_customer_id ON orders(customer_id);
CREATE INDEX orders_ordered_at ON orders(ordered_at);
CREATE INDEX order_items_product_id ON order_items(product_id);
";

async fn build(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    sqlx::raw_sql(SCHEMA).execute(&mut *tx).await?;
    let mut rng = Rng(0x5EED_CA90_0000_0001);
    // 2024-01-01 as days since 1970-01-01.
    let base_day: i64 = 19_723;
    for id in 1..=CUSTOMERS {
        let first = rng.pick(FIRST);
        let last = rng.pick(LAST);
        let email = format!(
            "{}.{}{}@example.com",
            ascii_lower(first),
            ascii_lower(last),
            id
        );
        let day = base_day - 365 + rng.below(700) as i64;
        sqlx::query("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?)")
            .bind(id as i64)
            .bind(format!("{first} {last}"))
            .bind(email)
            .bind(rng.pick(COUNTRIES))
            .bind(rng.pick(SEGMENTS))
            .bind(format!(
                "{}T{:02}:{:02}:00Z",
                iso_date(day),
                rng.below(24),
                rng.below(60)
            ))
            .execute(&mut *tx)
            .await?;
    }
    let mut prices = Vec::with_capacity(PRODUCTS);
    for id in 1..=PRODUCTS {
        let category = rng.pick(CATEGORIES);
        let cents = 299 + rng.below(30_000) as i64;
        // A few deliberate outliers for the anomaly prompt to find.
        let cents = if id % 97 == 0 { cents * 40 } else { cents };
        prices.push(cents);
        sqlx::query("INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?)")
            .bind(id as i64)
            .bind(format!("{}-{id:04}", &category[..3].to_ascii_uppercase()))
            .bind(format!("{} {}", rng.pick(ADJECTIVES), rng.pick(NOUNS)))
            .bind(category)
            .bind(cents as f64 / 100.0)
            .bind(rng.below(500) as i64)
            .bind(i64::from(rng.below(20) == 0))
            .execute(&mut *tx)
            .await?;
    }
    for id in 1..=ORDERS {
        let customer = 1 + rng.below(CUSTOMERS) as i64;
        let day = base_day + rng.below(540) as i64;
        let status = rng.pick(STATUSES);
        let coupon = (rng.below(6) == 0).then(|| format!("SAVE{}", 5 * (1 + rng.below(4))));
        let lines = 1 + rng.below(5);
        let mut total = 0i64;
        let mut used = Vec::with_capacity(lines);
        for _ in 0..lines {
            let product = 1 + rng.below(PRODUCTS);
            if used.contains(&product) {
                continue;
            }
            used.push(product);
        }
        let mut items = Vec::with_capacity(used.len());
        for product in used {
            let quantity = 1 + rng.below(4) as i64;
            let price = prices[product - 1];
            total += price * quantity;
            items.push((product as i64, quantity, price));
        }
        sqlx::query("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?)")
            .bind(id as i64)
            .bind(customer)
            .bind(format!(
                "{}T{:02}:{:02}:{:02}Z",
                iso_date(day),
                rng.below(24),
                rng.below(60),
                rng.below(60)
            ))
            .bind(status)
            .bind(rng.pick(COUNTRIES))
            .bind(coupon)
            .bind(total as f64 / 100.0)
            .execute(&mut *tx)
            .await?;
        for (product, quantity, price) in items {
            sqlx::query("INSERT INTO order_items VALUES (?, ?, ?, ?)")
                .bind(id as i64)
                .bind(product)
                .bind(quantity)
                .bind(price as f64 / 100.0)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    sqlx::raw_sql("ANALYZE").execute(&mut *conn).await?;
    Ok(())
}

fn ascii_lower(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            'á' | 'à' | 'ã' => Some('a'),
            'é' | 'ë' => Some('e'),
            'í' => Some('i'),
            'ó' | 'ö' | 'ø' => Some('o'),
            'ü' | 'ú' => Some('u'),
            'ß' => Some('s'),
            c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// `YYYY-MM-DD` of a day count since 1970-01-01.
fn iso_date(days: i64) -> String {
    chrono::DateTime::UNIX_EPOCH
        .checked_add_signed(chrono::TimeDelta::days(days))
        .map_or_else(String::new, |date| date.format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil() {
        assert_eq!(iso_date(0), "1970-01-01");
        assert_eq!(iso_date(19_723), "2024-01-01");
        assert_eq!(iso_date(19_723 + 59), "2024-02-29");
    }
}
