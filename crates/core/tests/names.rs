//! The name enums of `core::names` spell exactly the serde tags of the types they name,
//! and every text parses back to its name.

use chrono::{TimeZone, Utc};
use logiflow_core::{
    AdjustReason, AlertKind, Delta, Flag, FlagName, KindName, LocationId, LotId, MovementKind,
    Origin, OriginName, Outcome, OutcomeName, PositiveQty, ProductId, Qty, StockKey,
};
use rstest::rstest;
use uuid::Uuid;

fn loc() -> LocationId {
    LocationId::from_uuid(Uuid::from_u128(1))
}

fn key() -> StockKey {
    StockKey {
        product: ProductId::from_uuid(Uuid::from_u128(2)),
        location: loc(),
        lot: None,
    }
}

/// The serde tag of a value serialised as an internally tagged enum.
fn tag(value: impl serde::Serialize, field: &str) -> String {
    let json = serde_json::to_value(value).expect("serialises");
    json[field].as_str().expect("tagged").to_owned()
}

#[rstest]
#[case(MovementKind::Receive { to: loc(), qty: PositiveQty::new(1).unwrap() }, KindName::Receive)]
#[case(MovementKind::Ship { from: loc(), qty: PositiveQty::new(1).unwrap() }, KindName::Ship)]
#[case(MovementKind::Transfer { from: loc(), to: LocationId::from_uuid(Uuid::from_u128(3)), qty: PositiveQty::new(1).unwrap() }, KindName::Transfer)]
#[case(MovementKind::Adjust { at: loc(), delta: Delta::new(-1).unwrap(), reason: AdjustReason::Loss }, KindName::Adjust)]
#[case(MovementKind::Count { at: loc(), counted: Qty::new(0).unwrap(), expected: None }, KindName::Count)]
fn kind_names_are_the_kinds_tags(#[case] kind: MovementKind, #[case] name: KindName) {
    assert_eq!(kind.name(), name);
    assert_eq!(tag(kind, "kind"), name.as_str());
}

#[rstest]
#[case(Outcome::Applied { effects: Vec::new() }, OutcomeName::Applied)]
#[case(Outcome::Absorbed, OutcomeName::Absorbed)]
#[case(Outcome::Superseded, OutcomeName::Superseded)]
#[case(Outcome::Voided { reason: "duplicate scan".into() }, OutcomeName::Voided)]
fn outcome_names_are_the_outcomes_tags(#[case] outcome: Outcome, #[case] name: OutcomeName) {
    assert_eq!(outcome.name(), name);
    assert_eq!(tag(&outcome, "outcome"), name.as_str());
}

#[test]
fn origin_names_are_the_origins_serde_names() {
    for (origin, name) in [
        (Origin::Online, OriginName::Online),
        (Origin::Journal, OriginName::Journal),
    ] {
        assert_eq!(origin.name(), name);
        assert_eq!(serde_json::to_value(origin).unwrap(), name.as_str());
    }
}

#[rstest]
#[case(Flag::NegativeRow { key: key(), on_hand: -1 }, FlagName::NegativeRow)]
#[case(Flag::CountVariance { key: key(), expected: 1, server_at_time: 2 }, FlagName::CountVariance)]
#[case(Flag::ExpiredLotMoved { lot: LotId::from_uuid(Uuid::from_u128(4)) }, FlagName::ExpiredLotMoved)]
#[case(Flag::InactiveProduct, FlagName::InactiveProduct)]
#[case(Flag::InactiveLocation { location: loc() }, FlagName::InactiveLocation)]
#[case(Flag::Forced, FlagName::Forced)]
#[case(Flag::OutcomeRepaired { was: "held".into() }, FlagName::OutcomeRepaired)]
#[case(Flag::DatedBeforeDevice { registered_at: Utc.timestamp_opt(0, 0).unwrap() }, FlagName::DatedBeforeDevice)]
#[case(Flag::DatedLongAgo { age_days: 40, limit_days: 30 }, FlagName::DatedLongAgo)]
#[case(Flag::Redated { recorded_at: Utc.timestamp_opt(0, 0).unwrap(), applied_at: Utc.timestamp_opt(1, 0).unwrap() }, FlagName::Redated)]
#[case(Flag::UnknownOrderLine { line: Uuid::from_u128(9) }, FlagName::UnknownOrderLine)]
#[case(Flag::OrderLineMismatch { line: Uuid::from_u128(9) }, FlagName::OrderLineMismatch)]
#[case(Flag::OverReceipt { line: Uuid::from_u128(9), beyond: 2 }, FlagName::OverReceipt)]
#[case(Flag::PickOtherRow { line: Uuid::from_u128(9) }, FlagName::PickOtherRow)]
#[case(Flag::OverPick { line: Uuid::from_u128(9), excess: 1 }, FlagName::OverPick)]
#[case(Flag::ReceiptOrderNotOpen { line: Uuid::from_u128(9), status: logiflow_core::orders::PurchaseStatus::Closed }, FlagName::ReceiptOrderNotOpen)]
#[case(Flag::LotExpiryDiffers { lot: LotId::from_uuid(Uuid::from_u128(4)), recorded: None, kept: None }, FlagName::LotExpiryDiffers)]
fn flag_names_are_the_flags_tags(#[case] flag: Flag, #[case] name: FlagName) {
    assert_eq!(flag.name(), name);
    assert_eq!(tag(&flag, "flag"), name.as_str());
}

#[test]
fn every_name_parses_back_and_serialises_as_its_text() {
    fn check<N>(all: &[N])
    where
        N: Copy
            + PartialEq
            + std::fmt::Debug
            + std::fmt::Display
            + std::str::FromStr
            + serde::Serialize,
        <N as std::str::FromStr>::Err: std::fmt::Debug,
    {
        for name in all {
            let text = name.to_string();
            assert_eq!(text.parse::<N>().unwrap(), *name);
            assert_eq!(serde_json::to_value(name).unwrap(), text.as_str());
        }
    }
    check(KindName::ALL);
    check(OriginName::ALL);
    check(OutcomeName::ALL);
    check(FlagName::ALL);
    check(AlertKind::ALL);
    assert_eq!(KindName::ALL.len(), 5);
    assert_eq!(AlertKind::ALL.len(), 6);
    assert_eq!(
        serde_json::to_value(AlertKind::StockLow).unwrap(),
        "stock.low",
        "an alert kind keeps its dot"
    );
    assert_eq!(FlagName::ALL.len(), 17);
}

#[test]
fn an_unknown_text_is_refused_with_what_it_is_not() {
    let err = "teleport".parse::<KindName>().unwrap_err();
    assert_eq!(err.to_string(), "unknown KindName `teleport`");
    assert!(
        "Held".parse::<OutcomeName>().is_err(),
        "names are case-sensitive"
    );
    assert!(OutcomeName::Held == "held" && OutcomeName::Held != "applied");
}
