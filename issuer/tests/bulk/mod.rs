//! Bulk issuance through `issuer::bulk`: the internal API's rules over a batch, each line ending in one
//! outcome, and every issued certificate recorded and verifiable.

use issuer::FieldReason;
use issuer::bulk::{self, Line, LineOutcome, LineProblem};
use issuer::ledger::CertificateStatus;
use serde_json::json;
use verifier::{Detail, Input};

use super::{CONFIRMATIONS, confirm_request, foreign_verifier, send, systems};
use crate::fixtures::{confirmation_body, dose_event_id};

fn line(number: u64, text: impl Into<Vec<u8>>) -> Line {
    Line {
        number,
        text: Ok(text.into()),
    }
}

#[tokio::test]
async fn a_batch_follows_the_api_rules_line_by_line() {
    for system in systems().await {
        // Confirmed before through the API: one replayed as is, one sent again with another body.
        let replayed = confirmation_body(&dose_event_id());
        let changed = confirmation_body(&dose_event_id());
        for body in [&replayed, &changed] {
            let answer = send(
                &system.router,
                confirm_request(&system.tokens.registry, body),
            )
            .await;
            assert_eq!(answer.status.as_u16(), 201, "POST {CONFIRMATIONS}");
        }
        let mut conflicting = changed.clone();
        conflicting["vaccination"]["lot_number"] = json!("OTHER-LOT");
        let new = confirmation_body(&dose_event_id());
        let mut booster_as_3_of_2 = confirmation_body(&dose_event_id());
        booster_as_3_of_2["vaccination"]["dn"] = json!(3);
        let mut named_key = confirmation_body(&dose_event_id());
        named_key["person"]["Trần Thị Mai"] = json!(1);

        let lines = vec![
            line(1, new.to_string()),
            line(2, replayed.to_string()),
            line(3, conflicting.to_string()),
            line(4, booster_as_3_of_2.to_string()),
            line(5, named_key.to_string()),
            Line {
                number: 6,
                text: Err(LineProblem::TooLong),
            },
        ];
        let batch = bulk::prepare(&system.service, lines).await.unwrap();
        assert_eq!(
            batch.already_issued(),
            [replayed["dose_event_id"].as_str().unwrap()]
        );
        assert_eq!(
            batch.to_record().collect::<Vec<_>>(),
            [new["dose_event_id"].as_str().unwrap()]
        );
        let recorded = bulk::record(&system.ledger, batch).await;
        assert!(recorded.error.is_none());
        let outcomes: Vec<u64> = recorded
            .outcomes
            .iter()
            .map(|(number, _)| *number)
            .collect();
        assert_eq!(outcomes, [1, 2, 3, 4, 5, 6], "every line once, in order");
        assert_eq!(recorded.outcomes[0].1, LineOutcome::Issued);
        assert_eq!(recorded.outcomes[1].1, LineOutcome::AlreadyIssued);
        assert_eq!(recorded.outcomes[2].1, LineOutcome::Conflict);
        match &recorded.outcomes[3].1 {
            LineOutcome::Invalid(LineProblem::Field(error)) => {
                assert_eq!(error.field, "vaccination.dn");
                assert_ne!(error.reason, FieldReason::Missing);
            }
            other => panic!("expected an invalid dn, got {other:?}"),
        }
        match &recorded.outcomes[4].1 {
            LineOutcome::Invalid(problem @ LineProblem::Parse(_)) => {
                assert_eq!(problem.to_string(), "person: unknown field");
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
        assert_eq!(
            recorded.outcomes[5].1,
            LineOutcome::Invalid(LineProblem::TooLong)
        );

        // The one new certificate is in the ledger, active, and verifies against the published list.
        let [issued] = recorded.issued.as_slice() else {
            panic!("expected one certificate, got {}", recorded.issued.len());
        };
        assert_eq!(issued.dose_event_id, new["dose_event_id"].as_str().unwrap());
        let stored = system
            .ledger
            .certificate(&issued.uvci)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.status, CertificateStatus::Active);
        let verifier = foreign_verifier(&system).await;
        let report = verifier.verify(Input::Text(&issued.hc1), super::now(), Detail::default());
        assert!(report.valid, "{report:?}");
    }
}
