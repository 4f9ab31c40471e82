//! Money: an exact decimal amount in an explicit currency.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// An amount of money in an explicit currency. Never a float: amounts are decimals,
/// serialised as strings (`"0.35"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// The amount, exact.
    pub amount: Decimal,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
}
