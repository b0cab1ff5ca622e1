//! The payment state machine (E2–E5) as a pure function: a payment's state and what Stripe reported in, what
//! to do out. `webhook` reads the state, asks `next`, and carries the decision out in the event's transaction;
//! the table test below covers every (state, event) pair.
//!
//! ```text
//! PENDING ──confirmed──► SUCCEEDED ──refunded──► REFUNDED
//!    │  ▲                   (a refund seen first is remembered: the confirmation then lands as REFUNDED and
//!    │  └── FAILED, CANCELED    grants nothing; a confirmation still lands on them: the money was taken)
//!    ├──declined──► FAILED
//!    └──expired──► CANCELED
//! ```
//!
//! A confirmation grants the order only when its order still waits for it and the whole charge arrived: money
//! short of it leaves the order waiting for staff (`acceptPayment` or `refundPayment`), and money for an order
//! that no longer waits (canceled, or paid by another checkout) is returned by itself.

use crate::payments::models::PaymentStatus;

/// What the machine reads of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentState {
    pub status: PaymentStatus,
    /// A refund was confirmed before the money was.
    pub refund_seen: bool,
}

/// How much of the charge Stripe said arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// The event did not say (the charge is taken as it was).
    NotSaid,
    Exact,
    Short,
    More,
}

impl Received {
    /// `reported` against `charged`, both in minor units.
    pub fn of(reported: Option<i64>, charged: i64) -> Received {
        match reported {
            None => Received::NotSaid,
            Some(amount) if amount == charged => Received::Exact,
            Some(amount) if amount < charged => Received::Short,
            Some(_) => Received::More,
        }
    }

    /// Another amount than charged arrived: staff should look.
    pub fn differs(self) -> bool {
        matches!(self, Received::Short | Received::More)
    }
}

/// What Stripe reported about a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentEvent {
    /// The money arrived. `order_waits`: the payment's order still waits for it (read only when
    /// `needs_the_order` says the answer matters).
    Confirmed { received: Received, order_waits: bool },
    /// The payment method was declined.
    Declined,
    /// The checkout expired unpaid.
    Expired,
    /// A refund of the payment went through.
    Refunded,
}

/// What to do with the payment (and its order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Nothing: a repeat of what already happened, or a change a later state has overtaken.
    Nothing,
    /// SUCCEEDED: the order is fulfilled and the receipt sent; flagged for staff when the amount differs.
    Fulfil { review: bool },
    /// REFUNDED at once, the refund having come first: nothing is granted.
    LandRefunded { review: bool },
    /// SUCCEEDED, and the money returned by itself: the order no longer waits for it.
    ReturnUnwanted,
    /// SUCCEEDED short of the charge: nothing is granted and the order waits for staff.
    HoldShort,
    /// The payment closes (FAILED or CANCELED); its order stays payable.
    Close(PaymentStatus),
    /// REFUNDED: the order's movies are taken back and the payer told.
    Refund,
    /// The refund is remembered for the confirmation still to come.
    RememberRefund,
}

/// Whether `next` needs to know if the payment's order still waits for it (a read the caller skips otherwise).
pub fn needs_the_order(state: PaymentState, confirmed: bool) -> bool {
    confirmed && !settled(state.status) && !state.refund_seen
}

/// SUCCEEDED and REFUNDED are past every confirmation.
fn settled(status: PaymentStatus) -> bool {
    matches!(status, PaymentStatus::Succeeded | PaymentStatus::Refunded)
}

/// The machine: what `event` does to a payment in `state`.
pub fn next(state: PaymentState, event: PaymentEvent) -> Decision {
    use PaymentStatus::{Canceled, Failed, Pending, Succeeded};
    match event {
        PaymentEvent::Confirmed { .. } if settled(state.status) => Decision::Nothing,
        PaymentEvent::Confirmed { received, .. } if state.refund_seen => Decision::LandRefunded {
            review: received.differs(),
        },
        PaymentEvent::Confirmed { order_waits: false, .. } => Decision::ReturnUnwanted,
        PaymentEvent::Confirmed {
            received: Received::Short,
            ..
        } => Decision::HoldShort,
        PaymentEvent::Confirmed { received, .. } => Decision::Fulfil {
            review: received.differs(),
        },
        PaymentEvent::Declined if state.status == Pending => Decision::Close(Failed),
        PaymentEvent::Expired if state.status == Pending => Decision::Close(Canceled),
        PaymentEvent::Declined | PaymentEvent::Expired => Decision::Nothing,
        PaymentEvent::Refunded if state.status == Succeeded => Decision::Refund,
        PaymentEvent::Refunded if state.status != PaymentStatus::Refunded && !state.refund_seen => {
            Decision::RememberRefund
        }
        PaymentEvent::Refunded => Decision::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PaymentStatus::{Canceled, Failed, Pending, Refunded, Succeeded};

    const STATUSES: [PaymentStatus; 5] = [Pending, Succeeded, Failed, Canceled, Refunded];

    fn confirmed(received: Received, order_waits: bool) -> PaymentEvent {
        PaymentEvent::Confirmed { received, order_waits }
    }

    /// The whole table: every status, with and without a refund seen first, against every event (every
    /// amount, the order waiting or not). Each row says what must happen; none is left to a default.
    #[test]
    fn every_state_and_event() {
        use Decision::*;
        use Received::{Exact, More, NotSaid, Short};
        let mut checked = 0;
        for status in STATUSES {
            for refund_seen in [false, true] {
                let state = PaymentState { status, refund_seen };
                let settled = matches!(status, Succeeded | Refunded);
                for received in [NotSaid, Exact, Short, More] {
                    for order_waits in [true, false] {
                        let expected = match (settled, refund_seen, order_waits, received) {
                            (true, _, _, _) => Nothing,
                            (false, true, _, Short | More) => LandRefunded { review: true },
                            (false, true, _, NotSaid | Exact) => LandRefunded { review: false },
                            (false, false, false, _) => ReturnUnwanted,
                            (false, false, true, Short) => HoldShort,
                            (false, false, true, More) => Fulfil { review: true },
                            (false, false, true, NotSaid | Exact) => Fulfil { review: false },
                        };
                        let event = confirmed(received, order_waits);
                        assert_eq!(next(state, event), expected, "{state:?} {event:?}");
                        checked += 1;
                    }
                }
                let expected = match status {
                    Pending => Close(Failed),
                    _ => Nothing,
                };
                assert_eq!(next(state, PaymentEvent::Declined), expected, "{state:?} declined");
                let expected = match status {
                    Pending => Close(Canceled),
                    _ => Nothing,
                };
                assert_eq!(next(state, PaymentEvent::Expired), expected, "{state:?} expired");
                let expected = match (status, refund_seen) {
                    (Succeeded, _) => Refund,
                    (Pending | Failed | Canceled, false) => RememberRefund,
                    (Pending | Failed | Canceled, true) | (Refunded, _) => Nothing,
                };
                assert_eq!(next(state, PaymentEvent::Refunded), expected, "{state:?} refunded");
                checked += 3;
            }
        }
        assert_eq!(checked, 5 * 2 * (4 * 2 + 3), "every pair");
    }

    /// The order is read exactly when a confirmation's outcome depends on it.
    #[test]
    fn the_order_is_read_only_when_it_decides() {
        for status in STATUSES {
            for refund_seen in [false, true] {
                let state = PaymentState { status, refund_seen };
                let waits = next(state, confirmed(Received::Exact, true));
                let moved_on = next(state, confirmed(Received::Exact, false));
                assert_eq!(needs_the_order(state, true), waits != moved_on, "{state:?}");
                assert!(
                    !needs_the_order(state, false),
                    "{state:?}: only a confirmation reads it"
                );
            }
        }
    }

    #[test]
    fn amounts_against_the_charge() {
        assert_eq!(Received::of(None, 1299), Received::NotSaid);
        assert_eq!(Received::of(Some(1299), 1299), Received::Exact);
        assert_eq!(Received::of(Some(1298), 1299), Received::Short);
        assert_eq!(Received::of(Some(1300), 1299), Received::More);
    }
}
