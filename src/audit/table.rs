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

/// Renders `report`; `colour` adds ANSI colours to the status column.
pub fn render(report: &Report, colour: bool) -> String {
    let mut rows: Vec<([String; 6], Status, &str)> = report
        .credentials
        .iter()
        .map(|e| {
            (
                [
                    e.name.clone(),
                    e.kind.clone(),
                    e.status.to_string(),
                    time(e.last_rotated),
                    time(e.next_due),
                    time(e.expires_at),
                ],
                e.status,
                e.detail.as_str(),
            )
        })
        .collect();
    rows.extend(report.unmanaged.iter().map(|u| {
        (
            [
                u.credential.clone().unwrap_or_else(|| "-".to_owned()),
                u.kind.clone().unwrap_or_else(|| "-".to_owned()),
                u.status.to_string(),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
            ],
            u.status,
            u.detail.as_str(),
        )
    }));
    let mut widths = [0usize; 6];
    for (i, width) in widths.iter_mut().enumerate() {
        *width = rows
            .iter()
            .map(|(cells, _, _)| cells[i].chars().count())
            .chain([HEADERS[i].len()])
            .max()
            .unwrap_or(0);
    }
    let mut out = String::new();
    let header: Vec<String> = HEADERS[..6]
        .iter()
        .zip(widths)
        .map(|(h, w)| format!("{h:<w$}"))
        .collect();
    out.push_str(&format!("{}  {}\n", header.join("  "), HEADERS[6]));
    for (cells, status, detail) in &rows {
        let mut line = Vec::with_capacity(6);
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            let padded = format!("{cell:<width$}");
            line.push(if i == 2 && colour {
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
    fn colour_only_when_asked() {
        assert!(render(&report(), true).contains("\x1b[32mok"));
    }
}
