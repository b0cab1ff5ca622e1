//! An order's life (D1–D4, E3, E5) as a pure function: what each step asks of an order in each status, and the
//! one place where a refusal gets its code and words. The service reads the order under its lock, asks
//! `next`, and carries the answer out; the table test below covers every (status, step) pair.
//!
//! ```text
//! PENDING ──money confirmed──► PAID ──refund confirmed──► REFUNDED
//!    └──canceled (by its owner, or abandoned)──► CANCELED
//! ```

use axum::http::StatusCode;

use crate::error::AppError;
use crate::shop::models::OrderStatus;

/// What is asked of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStep {
    /// Its owner cancels it, or nobody paid it in time (D4, F3).
    Cancel,
    /// Its owner opens a checkout for it (E1).
    Pay,
    /// It is re-priced from today's prices right before its checkout opens (D2).
    Reprice,
    /// The money for it is confirmed (E3).
    Fulfil,
    /// Its owner or staff asks for its money back (E5).
    RequestRefund,
    /// The refund of its money is confirmed (E5): a PAID order's movies are taken back; money that never
    /// granted it takes nothing.
    Revoke,
}

/// What the step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderMove {
    /// The order moves to this status.
    To(OrderStatus),
    /// The step goes on and the order stays as it is.
    Stays,
}

/// Why the step cannot be taken: the step and the status that refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderRefused {
    pub step: OrderStep,
    pub status: OrderStatus,
}

/// The lifecycle: what `step` does to an order in `status`.
pub fn next(status: OrderStatus, step: OrderStep) -> Result<OrderMove, OrderRefused> {
    use OrderStatus::{Canceled, Paid, Pending, Refunded};
    let refused = Err(OrderRefused { step, status });
    match (step, status) {
        (OrderStep::Cancel, Pending) => Ok(OrderMove::To(Canceled)),
        (OrderStep::Pay | OrderStep::Reprice, Pending) => Ok(OrderMove::Stays),
        (OrderStep::Fulfil, Pending) => Ok(OrderMove::To(Paid)),
        (OrderStep::RequestRefund, Paid) => Ok(OrderMove::Stays),
        (OrderStep::Revoke, Paid) => Ok(OrderMove::To(Refunded)),
        (OrderStep::Revoke, Pending | Canceled | Refunded) => Ok(OrderMove::Stays),
        (OrderStep::Cancel | OrderStep::Pay | OrderStep::Reprice | OrderStep::Fulfil, Paid | Canceled | Refunded)
        | (OrderStep::RequestRefund, Pending | Canceled | Refunded) => refused,
    }
}

impl OrderRefused {
    /// The refusal's stable code.
    pub fn code(self) -> &'static str {
        use OrderStatus::{Canceled, Paid, Refunded};
        match (self.step, self.status) {
            (OrderStep::Cancel | OrderStep::Pay, Paid) => "ORDER_PAID",
            (OrderStep::Cancel | OrderStep::Pay, Canceled | Refunded) => "ORDER_CLOSED",
            (OrderStep::RequestRefund, _) => "ORDER_NOT_PAID",
            _ => "ORDER_NOT_PENDING",
        }
    }

    fn message(self) -> String {
        let status = self.status.as_str().to_lowercase();
        match (self.step, self.status) {
            (OrderStep::Cancel, OrderStatus::Paid) => "this order is paid: it can only be undone by a refund".into(),
            (OrderStep::Cancel, _) => format!("this order is {status} and cannot be canceled"),
            (OrderStep::Pay, OrderStatus::Paid) => "this order is paid already".into(),
            (OrderStep::Pay, _) => format!("this order is {status} and cannot be paid"),
            (OrderStep::Reprice, _) => "only a pending order can be paid".into(),
            (OrderStep::RequestRefund, _) => format!("this order is {status}: only a paid order can be refunded"),
            _ => format!("the order is {}, not pending", self.status.as_str()),
        }
    }
}

impl From<OrderRefused> for AppError {
    fn from(refused: OrderRefused) -> AppError {
        AppError::rejected(StatusCode::CONFLICT, refused.code(), refused.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::{Canceled, Paid, Pending, Refunded};

    /// Every status against every step: where it moves, that it stays, or the code that refuses it.
    #[test]
    fn every_status_and_step() {
        use OrderStep::{Cancel, Fulfil, Pay, Reprice, RequestRefund, Revoke};
        let to = |status| Ok(OrderMove::To(status));
        let stays = Ok(OrderMove::Stays);
        let table: [(OrderStatus, OrderStep, Result<OrderMove, &str>); 24] = [
            (Pending, Cancel, to(Canceled)),
            (Paid, Cancel, Err("ORDER_PAID")),
            (Canceled, Cancel, Err("ORDER_CLOSED")),
            (Refunded, Cancel, Err("ORDER_CLOSED")),
            (Pending, Pay, stays),
            (Paid, Pay, Err("ORDER_PAID")),
            (Canceled, Pay, Err("ORDER_CLOSED")),
            (Refunded, Pay, Err("ORDER_CLOSED")),
            (Pending, Reprice, stays),
            (Paid, Reprice, Err("ORDER_NOT_PENDING")),
            (Canceled, Reprice, Err("ORDER_NOT_PENDING")),
            (Refunded, Reprice, Err("ORDER_NOT_PENDING")),
            (Pending, Fulfil, to(Paid)),
            (Paid, Fulfil, Err("ORDER_NOT_PENDING")),
            (Canceled, Fulfil, Err("ORDER_NOT_PENDING")),
            (Refunded, Fulfil, Err("ORDER_NOT_PENDING")),
            (Pending, RequestRefund, Err("ORDER_NOT_PAID")),
            (Paid, RequestRefund, stays),
            (Canceled, RequestRefund, Err("ORDER_NOT_PAID")),
            (Refunded, RequestRefund, Err("ORDER_NOT_PAID")),
            (Pending, Revoke, stays),
            (Paid, Revoke, to(Refunded)),
            (Canceled, Revoke, stays),
            (Refunded, Revoke, stays),
        ];
        for (status, step, expected) in table {
            let got = next(status, step).map_err(OrderRefused::code);
            assert_eq!(got, expected, "{status:?} {step:?}");
        }
    }

    #[test]
    fn refusals_say_what_the_order_is() {
        let refused = |status, step| AppError::from(next(status, step).unwrap_err()).public_message();
        assert_eq!(
            refused(Paid, OrderStep::Cancel),
            "this order is paid: it can only be undone by a refund"
        );
        assert_eq!(
            refused(Refunded, OrderStep::Cancel),
            "this order is refunded and cannot be canceled"
        );
        assert_eq!(refused(Paid, OrderStep::Pay), "this order is paid already");
        assert_eq!(
            refused(Canceled, OrderStep::Pay),
            "this order is canceled and cannot be paid"
        );
        assert_eq!(refused(Paid, OrderStep::Reprice), "only a pending order can be paid");
        assert_eq!(refused(Paid, OrderStep::Fulfil), "the order is PAID, not pending");
        assert_eq!(
            refused(Pending, OrderStep::RequestRefund),
            "this order is pending: only a paid order can be refunded"
        );
    }
}
