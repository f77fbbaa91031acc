//! The audit as a table for people: one row per credential, then the
//! unmanaged secrets and a summary line. Colour only when asked (a TTY).

use super::report::Report;
use super::status::Status;
use crate::record::format_time;

const HEADERS: [&str; 7] = [
    "NAME",
    "KIND",
    "STATUS",
    "LAST ROTATED",
    "NEXT DUE",
    "EXPIRES",
    "DETAIL",
];

/// The ACCOUNT column, after KIND, shown when any credential has one.
const ACCOUNT: &str = "ACCOUNT";

/// Renders `report`; `colour` adds ANSI colours to the status column.
pub fn render(report: &Report, colour: bool) -> String {
    let accounts = report
        .credentials
        .iter()
        .any(|e| e.account.is_some() || e.secret_account.is_some());
    let mut headers: Vec<&str> = HEADERS[..6].to_vec();
    if accounts {
        headers.insert(2, ACCOUNT);
    }
    let status_column = headers.iter().position(|h| *h == "STATUS").unwrap_or(2);
    let mut rows: Vec<(Vec<String>, Status, &str)> = report
        .credentials
        .iter()
        .map(|e| {
            let mut cells = vec![
                e.name.clone(),
                e.kind.clone(),
                e.status.to_string(),
                time(e.last_rotated),
                time(e.next_due),
                time(e.expires_at),
            ];
            if accounts {
                cells.insert(2, account_cell(e));
            }
            (cells, e.status, e.detail.as_str())
        })
        .collect();
    rows.extend(report.unmanaged.iter().map(|u| {
        let mut cells = vec![
            u.credential.clone().unwrap_or_else(|| "-".to_owned()),
            u.kind.clone().unwrap_or_else(|| "-".to_owned()),
            u.status.to_string(),
            "-".to_owned(),
            "-".to_owned(),
            "-".to_owned(),
        ];
        if accounts {
            cells.insert(2, "-".to_owned());
        }
        (cells, u.status, u.detail.as_str())
    }));
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|(cells, _, _)| cells[i].chars().count())
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let header: Vec<String> = headers
        .iter()
        .zip(&widths)
        .map(|(h, w)| format!("{h:<w$}"))
        .collect();
    out.push_str(&format!("{}  {}\n", header.join("  "), HEADERS[6]));
    for (cells, status, detail) in &rows {
        let mut line = Vec::with_capacity(cells.len());
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            let padded = format!("{cell:<width$}");
            line.push(if i == status_column && colour {
                paint(*status, &padded)
            } else {
                padded
            });
        }
        out.push_str(&format!("{}  {detail}\n", line.join("  ")));
    }
    out.push_str(&report.summary_line());
    out.push('\n');
    out
}

/// `media`, `media/security` when the secret lives in another account, `-`
/// for rekeyd's own identity.
fn account_cell(entry: &super::report::Entry) -> String {
    let provider = entry.account.as_deref().unwrap_or("-");
    match entry.secret_account.as_deref().unwrap_or("-") {
        secrets if secrets == provider => provider.to_owned(),
        secrets => format!("{provider}/{secrets}"),
    }
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map_or_else(|| "-".to_owned(), format_time)
}

fn paint(status: Status, text: &str) -> String {
    let code = match status {
        Status::Ok => "32",
        Status::Overdue | Status::Expiring => "33",
        Status::Unmanaged => "36",
        Status::Missing | Status::Expired | Status::Drift | Status::Error => "1;31",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::report::{Entry, Report, Unmanaged};

    fn report() -> Report {
        let entry = Entry {
            name: "support-bot".into(),
            kind: "chime_bot".into(),
            secret: "rekeyd/support-bot".into(),
            account: None,
            secret_account: None,
            status: Status::Ok,
            last_rotated: Some("2026-11-23T03:00:00Z".parse().unwrap()),
            next_due: Some("2026-11-24T03:00:00Z".parse().unwrap()),
            expires_at: None,
            detail: "next rotation due 2026-11-24T03:00:00Z".into(),
        };
        let orphan = Unmanaged {
            secret: Some("rekeyd/old".into()),
            credential: Some("old".into()),
            kind: None,
            status: Status::Unmanaged,
            detail: "no credential claims it".into(),
        };
        Report::new(
            "2026-11-23T10:00:00Z".parse().unwrap(),
            false,
            vec![entry],
            vec![orphan],
        )
    }

    #[test]
    fn plain_table_has_aligned_columns_and_a_summary() {
        let text = render(&report(), false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("NAME         KIND       STATUS"),
            "{text}"
        );
        assert!(
            lines[1].starts_with("support-bot  chime_bot  ok "),
            "{text}"
        );
        assert!(
            lines[2].starts_with("old          -          unmanaged"),
            "{text}"
        );
        assert_eq!(lines[3], "1 credential: 1 ok; 1 unmanaged secret");
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn an_account_column_appears_when_a_credential_has_an_account() {
        let mut report = report();
        report.credentials[0].account = Some("media".into());
        report.credentials[0].secret_account = Some("security".into());
        let text = render(&report, false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("NAME         KIND       ACCOUNT         STATUS"),
            "{text}"
        );
        assert!(
            lines[1].starts_with("support-bot  chime_bot  media/security  ok "),
            "{text}"
        );
        assert!(render(&report, true).contains("\x1b[32mok"));
    }

    #[test]
    fn colour_only_when_asked() {
        assert!(render(&report(), true).contains("\x1b[32mok"));
    }
}
