//! Delivery on the shared doubles.

use super::*;
use crate::kernel::Profile;
use crate::testing::{FakeDirectory, FakeMailer};

#[test]
fn notification_ids_are_stable_and_separate_their_parts() {
    assert_eq!(notification_id(&["a", "b"]), notification_id(&["a", "b"]));
    assert_ne!(notification_id(&["ab", "c"]), notification_id(&["a", "bc"]));
    assert!(notification_id(&["x"]).starts_with("nt-"));
}

#[test]
fn the_wire_shape_carries_its_kind() {
    let notification = Notification {
        id: "nt-1".into(),
        recipient: "alice".into(),
        at: "2026-03-02T09:00:00Z".parse().unwrap(),
        kind: NotificationKind::BudgetCrossing {
            user: "alice".into(),
            month: "2026-03".into(),
            threshold: 80,
            amount: Decimal::new(24_000, 2),
            budget: Decimal::new(300, 0),
            currency: "EUR".into(),
            policy: "notify".into(),
        },
        delivery: Delivery::pending(),
    };
    let json = serde_json::to_value(&notification).unwrap();
    assert_eq!(json["kind"], "budget-crossing");
    assert_eq!(json["threshold"], 80);
    assert_eq!(json["delivery"]["status"], "pending");
    let back: Notification = serde_json::from_value(json).unwrap();
    assert_eq!(back, notification);
    let (subject, text) = notification.email_text();
    assert_eq!(subject, "Atelier: Your 2026-03 estimate reached 80 % of the budget");
    assert!(text.contains("240.00 EUR"), "{text}");
}

#[tokio::test]
async fn a_recipient_without_an_address_is_not_mailed() {
    let store = crate::testing::MemoryStore::default();
    let directory = FakeDirectory::default().with_user("alice", Profile::default());
    let mailer = FakeMailer::default();
    let report = deliver(&store, &mailer, &directory, "2026-03-02T09:00:00Z".parse().unwrap()).await.unwrap();
    assert_eq!(report, DeliveryReport::default(), "nothing pending");
    assert!(mailer.sent().is_empty());
}
