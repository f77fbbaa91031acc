//! DynamoDB numbers: decimals of up to 38 significant digits, compared and added exactly.

use std::cmp::Ordering;
use std::fmt;

use super::value::validation;
use crate::error::ApiError;

const MAX_DIGITS: u32 = 38;

/// `mantissa * 10^exponent`, normalised: no trailing zeros in the mantissa, zero is `0 * 10^0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Number {
    mantissa: i128,
    exponent: i32,
}

fn digits(n: i128) -> u32 {
    if n == 0 {
        1
    } else {
        n.unsigned_abs().ilog10() + 1
    }
}

fn overflow() -> ApiError {
    validation(
        "Number overflow. Attempting to store a number with magnitude larger than supported range",
    )
}

impl Number {
    fn new(mut mantissa: i128, mut exponent: i32) -> Result<Number, ApiError> {
        if mantissa == 0 {
            return Ok(Number {
                mantissa: 0,
                exponent: 0,
            });
        }
        while mantissa % 10 == 0 {
            mantissa /= 10;
            exponent += 1;
        }
        if digits(mantissa) > MAX_DIGITS {
            return Err(validation(
                "Attempting to store more than 38 significant digits in a Number",
            ));
        }
        // AWS's range: 1E-130 to 9.99..E+125 in magnitude.
        let magnitude = exponent + digits(mantissa) as i32 - 1;
        if magnitude > 125 {
            return Err(overflow());
        }
        if magnitude < -130 {
            return Err(validation(
                "Number underflow. Attempting to store a number with magnitude smaller than supported range",
            ));
        }
        Ok(Number { mantissa, exponent })
    }

    /// Parses `-12.50`, `1E+3`, `.5`; anything else is a ValidationException.
    pub(crate) fn parse(text: &str) -> Result<Number, ApiError> {
        let bad = || {
            validation(format!(
                "A value provided cannot be converted into a number: {text}"
            ))
        };
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (decimal, exponent) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], rest[i + 1..].parse::<i32>().map_err(|_| bad())?),
            None => (rest, 0),
        };
        let (whole, fraction) = decimal.split_once('.').unwrap_or((decimal, ""));
        if whole.is_empty() && fraction.is_empty()
            || !whole
                .chars()
                .chain(fraction.chars())
                .all(|c| c.is_ascii_digit())
        {
            return Err(bad());
        }
        let all = format!("{whole}{fraction}");
        let significant = all.trim_start_matches('0').trim_end_matches('0');
        if significant.len() > MAX_DIGITS as usize {
            return Err(validation(
                "Attempting to store more than 38 significant digits in a Number",
            ));
        }
        let trailing = all.len() - all.trim_end_matches('0').len();
        let mantissa: i128 = if significant.is_empty() {
            0
        } else {
            significant.parse().map_err(|_| bad())?
        };
        let exponent = exponent
            .checked_sub(fraction.len() as i32)
            .and_then(|e| e.checked_add(trailing as i32))
            .ok_or_else(overflow)?;
        Number::new(if negative { -mantissa } else { mantissa }, exponent)
    }

    /// The exact sum; a result past 38 digits or AWS's range is a ValidationException.
    pub(crate) fn add(self, other: Number) -> Result<Number, ApiError> {
        let low = self.exponent.min(other.exponent);
        let scale = |n: Number| {
            10i128
                .checked_pow((n.exponent - low) as u32)
                .and_then(|p| n.mantissa.checked_mul(p))
        };
        let sum = scale(self)
            .zip(scale(other))
            .and_then(|(a, b)| a.checked_add(b))
            .ok_or_else(overflow)?;
        Number::new(sum, low)
    }

    pub(crate) fn negate(self) -> Number {
        Number {
            mantissa: -self.mantissa,
            exponent: self.exponent,
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        let sign = |n: &Number| n.mantissa.signum();
        let by_sign = sign(self).cmp(&sign(other));
        if by_sign != Ordering::Equal || self.mantissa == 0 {
            return Some(by_sign);
        }
        // Same sign, both non-zero: compare magnitudes, then flip for negatives.
        let (da, db) = (digits(self.mantissa), digits(other.mantissa));
        let (ma, mb) = (self.exponent + da as i32, other.exponent + db as i32);
        let magnitude = if ma != mb {
            ma.cmp(&mb)
        } else {
            let width = da.max(db);
            let a = self.mantissa.unsigned_abs() * 10u128.pow(width - da);
            let b = other.mantissa.unsigned_abs() * 10u128.pow(width - db);
            a.cmp(&b)
        };
        Some(if self.mantissa < 0 {
            magnitude.reverse()
        } else {
            magnitude
        })
    }
}

impl fmt::Display for Number {
    /// Plain decimal notation without superfluous zeros, as DynamoDB answers numbers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.mantissa < 0 { "-" } else { "" };
        let text = self.mantissa.unsigned_abs().to_string();
        if self.exponent >= 0 {
            write!(f, "{sign}{text}{}", "0".repeat(self.exponent as usize))
        } else {
            let point = text.len() as i32 + self.exponent;
            if point > 0 {
                let (whole, fraction) = text.split_at(point as usize);
                write!(f, "{sign}{whole}.{fraction}")
            } else {
                write!(f, "{sign}0.{}{text}", "0".repeat((-point) as usize))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> Number {
        Number::parse(text).unwrap()
    }

    #[test]
    fn parses_and_prints_canonically() {
        for (input, printed) in [
            ("0", "0"),
            ("-0.0", "0"),
            ("007", "7"),
            ("1.50", "1.5"),
            ("1E+3", "1000"),
            ("-2.5e-3", "-0.0025"),
            (".5", "0.5"),
            ("120", "120"),
        ] {
            assert_eq!(n(input).to_string(), printed, "{input}");
        }
        for bad in ["", "-", "1.2.3", "abc", "1e", "1e+x", " 1"] {
            assert!(Number::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Number::parse(&"1".repeat(39)).is_err());
        assert!(Number::parse("1E+126").is_err());
    }

    #[test]
    fn adds_and_orders_exactly() {
        assert_eq!(n("0.1").add(n("0.2")).unwrap(), n("0.3"));
        assert_eq!(n("41").add(n("1")).unwrap().to_string(), "42");
        assert_eq!(n("5").add(n("-5").negate().negate()).unwrap(), n("0"));
        assert!(n("9") < n("10"));
        assert!(n("-10") < n("-9"));
        assert!(n("-1") < n("0"));
        assert!(n("1.05") > n("1.0499999"));
        assert!(n("1e2") == n("100"));
    }
}
