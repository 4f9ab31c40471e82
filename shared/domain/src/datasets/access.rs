//! The data-flow trace: every grant, revoke, attach and detach, and the access intervals
//! (who could read a dataset, from which workspace, between which instants) rebuilt from it.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::DatasetId;
use crate::costs::{CsvWriter, Separator};
use crate::workspaces::Actor;

/// What happened to access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessAction {
    /// A group or user was added to the dataset's readers (or the dataset was registered).
    Grant,
    /// A group or user was removed from the readers (or the dataset was deleted).
    Revoke,
    /// The dataset was attached to a workspace: its owner's machine can read it.
    Attach,
    /// The dataset was detached from a workspace.
    Detach,
    /// The workspace's agent reported the dataset mounted on the machine (`at` is the
    /// agent's instant; the data-access pass records it).
    Mount,
}

impl AccessAction {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessAction::Grant => "grant",
            AccessAction::Revoke => "revoke",
            AccessAction::Attach => "attach",
            AccessAction::Detach => "detach",
            AccessAction::Mount => "mount",
        }
    }
}

/// One entry of the trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessEvent {
    /// When it happened; the trace is read and exported in this order.
    pub at: Timestamp,
    /// The dataset concerned.
    pub dataset_id: DatasetId,
    /// What happened.
    pub action: AccessAction,
    /// Who did it: an admin, a workspace owner, or `state-sync`.
    pub actor: Actor,
    /// The user concerned: the granted/revoked user, or the owner of the workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The granted/revoked group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The workspace of an attach or detach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    /// More in words: the location attached, why state-sync detached, `dataset registered`
    /// or `dataset deleted` on the grants and revokes those make.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A period during which `user` could read `dataset_id` from `workspace_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessInterval {
    /// The dataset that could be read.
    pub dataset_id: DatasetId,
    /// The workspace's owner, as the attach event names them (empty if it names nobody).
    pub user: String,
    /// The workspace it was attached to (`ws-...`).
    pub workspace_id: String,
    /// The attach.
    pub from: Timestamp,
    /// When the workspace's agent reported it mounted (`None`: not reported, for example
    /// while the machine is stopped).
    pub mounted_at: Option<Timestamp>,
    /// `None` while the dataset is still attached.
    pub until: Option<Timestamp>,
}

/// Pairs each attach with the next detach of the same dataset from the same workspace,
/// oldest first. A detach without an attach before it (a trace that starts mid-way) is
/// ignored; an attach without a detach is an open interval.
pub fn intervals(events: &[AccessEvent]) -> Vec<AccessInterval> {
    let mut sorted: Vec<&AccessEvent> = events.iter().collect();
    // A mount recorded at its attach's instant comes after it.
    sorted.sort_by_key(|e| (e.at, e.action == AccessAction::Mount));
    let mut open: HashMap<(DatasetId, String), usize> = HashMap::new();
    let mut out: Vec<AccessInterval> = Vec::new();
    for event in sorted {
        let Some(workspace) = event.workspace_id.clone() else { continue };
        let key = (event.dataset_id.clone(), workspace.clone());
        match event.action {
            AccessAction::Attach if !open.contains_key(&key) => {
                open.insert(key, out.len());
                out.push(AccessInterval {
                    dataset_id: event.dataset_id.clone(),
                    user: event.user.clone().unwrap_or_default(),
                    workspace_id: workspace,
                    from: event.at,
                    mounted_at: None,
                    until: None,
                });
            }
            AccessAction::Mount => {
                if let Some(&index) = open.get(&key) {
                    out[index].mounted_at.get_or_insert(event.at);
                }
            }
            AccessAction::Detach => {
                if let Some(index) = open.remove(&key) {
                    out[index].until = Some(event.at);
                }
            }
            _ => {}
        }
    }
    out
}

/// Columns of the monthly data-access CSV.
pub const CSV_COLUMNS: [&str; 9] =
    ["month", "at", "dataset_id", "action", "user", "group", "workspace_id", "actor", "reason"];

/// Writes the header row and one row per event (RFC 4180, injection neutralised, through
/// the cost export's [`CsvWriter`]).
pub fn write_csv<W: std::io::Write>(month: &str, events: &[AccessEvent], out: W) -> std::io::Result<W> {
    let mut csv = CsvWriter::new(out, Separator::Comma);
    csv.write_row(&CSV_COLUMNS)?;
    for e in events {
        let at = e.at.to_string();
        csv.write_row(&[
            month,
            &at,
            e.dataset_id.as_str(),
            e.action.as_str(),
            e.user.as_deref().unwrap_or(""),
            e.group.as_deref().unwrap_or(""),
            e.workspace_id.as_deref().unwrap_or(""),
            &e.actor.0,
            e.reason.as_deref().unwrap_or(""),
        ])?;
    }
    csv.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn event(t: &str, action: AccessAction, ws: &str) -> AccessEvent {
        AccessEvent {
            at: at(t),
            dataset_id: DatasetId::parse("onco").unwrap(),
            action,
            actor: Actor::user("alice"),
            user: Some("alice".into()),
            group: None,
            workspace_id: Some(ws.into()),
            reason: None,
        }
    }

    #[test]
    fn attaches_pair_with_the_next_detach_of_the_same_workspace() {
        let events = [
            event("2026-11-02T10:00:00Z", AccessAction::Attach, "ws-a"),
            event("2026-11-02T11:00:00Z", AccessAction::Attach, "ws-b"),
            event("2026-11-02T12:00:00Z", AccessAction::Detach, "ws-a"),
            event("2026-11-02T13:00:00Z", AccessAction::Attach, "ws-a"),
        ];
        let got = intervals(&events);
        assert_eq!(got.len(), 3);
        assert_eq!((got[0].workspace_id.as_str(), got[0].until), ("ws-a", Some(at("2026-11-02T12:00:00Z"))));
        assert_eq!((got[1].workspace_id.as_str(), got[1].until), ("ws-b", None));
        assert_eq!((got[2].from, got[2].until), (at("2026-11-02T13:00:00Z"), None));
    }

    #[test]
    fn order_of_input_does_not_matter_and_stray_detaches_are_ignored() {
        let mut events = vec![
            event("2026-11-02T12:00:00Z", AccessAction::Detach, "ws-a"),
            event("2026-11-02T10:00:00Z", AccessAction::Attach, "ws-a"),
            event("2026-11-01T10:00:00Z", AccessAction::Detach, "ws-z"),
        ];
        let forward = intervals(&events);
        events.reverse();
        assert_eq!(intervals(&events), forward);
        assert_eq!(forward.len(), 1);
    }

    #[test]
    fn a_mount_report_marks_its_open_interval_only() {
        let events = [
            event("2026-11-02T10:00:00Z", AccessAction::Attach, "ws-a"),
            event("2026-11-02T10:01:00Z", AccessAction::Mount, "ws-a"),
            event("2026-11-02T12:00:00Z", AccessAction::Detach, "ws-a"),
            event("2026-11-02T12:30:00Z", AccessAction::Mount, "ws-a"),
            event("2026-11-02T13:00:00Z", AccessAction::Attach, "ws-a"),
        ];
        let got = intervals(&events);
        assert_eq!(got[0].mounted_at, Some(at("2026-11-02T10:01:00Z")));
        assert_eq!(got[1].mounted_at, None, "a report outside an interval marks nothing");
    }

    #[test]
    fn the_csv_neutralises_formulas() {
        let mut e = event("2026-11-02T10:00:00Z", AccessAction::Attach, "ws-a");
        e.reason = Some("=HYPERLINK(\"x\")".into());
        let bytes = write_csv("2026-11", &[e], Vec::new()).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("month,at,dataset_id,action,user,group,workspace_id,actor,reason\r\n"));
        assert!(text.contains(",\"'=HYPERLINK(\"\"x\"\")\"\r\n"), "{text}");
    }
}
