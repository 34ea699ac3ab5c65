//! Summaries of repeated denials, so a realm that loops on a denied request can neither
//! flood the console nor slow the memory manager with printing.
//!
//! [`DenialSummary`] keeps, for each realm, its [`WAYS`] most recent distinct denials
//! ([`DenialKey`]: realm, action, service, rule as small integers the memory manager
//! chooses) with how often each repeated. For each denial the memory manager asks
//! [`DenialSummary::denial`]:
//!
//! - a denial not in the realm's table is **printed** in full (sentence and event line);
//! - an identical one is **counted** as a repeat, and not printed;
//! - when a denial's repeats reach 10, 100, 1000, ... (powers of ten), a [`RepeatSummary`]
//!   is due, so a realm denied a million times in a loop costs seven lines;
//! - when a new denial pushes the realm's oldest one out of its table, that one's unreported
//!   repeats are due;
//! - [`DenialSummary::flush`] returns every due summary of a realm and forgets its denials:
//!   call it when the realm stops, and before printing a different decision about the realm
//!   (an allowed connect, say), so the console tells the story in order. Not before the
//!   realm's own output lines: those are bounded by the queue's share already, and a realm
//!   that prints after each refusal would otherwise defeat the summary.
//!
//! A due summary is printed before the line that made it due. Suggested form: the sentence
//! `broker: connect denied: realm "plugin" -> service "kv" repeated 10 more times (10 in
//! all)`, then the event `SWITCHBOARD-EVENT denial-repeated realm=plugin action=connect
//! service=kv rule=... count=10 total=10`.
//!
//! Memory is bounded (`SOURCES * WAYS` entries, no allocation), nothing panics, and counts
//! saturate at `u32::MAX`. A realm that cycles through more than [`WAYS`] distinct denials
//! gets each printed; the console queue's bounds still protect everyone else.

use heapless::Vec;

use crate::{SOURCES, Source, of_source_mut};

/// How many distinct recent denials are remembered per realm.
pub const WAYS: usize = 4;

/// One denial, as small integers the memory manager chooses (for example the action's and
/// the rule's enum discriminants and the service's index in the registry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DenialKey {
    /// The realm that was refused.
    pub realm: Source,
    /// What it asked for (register, connect, grant, ...).
    pub action: u8,
    /// Which service it named.
    pub service: u32,
    /// The rule that refused it.
    pub rule: u8,
}

/// Repeats of one denial that are due to be printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RepeatSummary {
    /// The denial that repeated.
    pub key: DenialKey,
    /// Repeats since it was last printed or summarised (at least 1).
    pub repeats: u32,
    /// Repeats since it was printed in full (saturating).
    pub total: u32,
}

/// What to do about one denial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DenialReport {
    /// Print this denial in full (it is new for its realm).
    pub print: bool,
    /// A summary to print first: of this denial when its repeats reached a power of ten, or
    /// of an older denial pushed out of the realm's table.
    pub summary: Option<RepeatSummary>,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    key: DenialKey,
    total: u32,
    reported: u32,
}

impl Entry {
    fn due(&self) -> Option<RepeatSummary> {
        (self.total > self.reported).then_some(RepeatSummary {
            key: self.key,
            repeats: self.total - self.reported,
            total: self.total,
        })
    }
}

/// The per-realm tables of recent denials (see the module doc).
pub struct DenialSummary {
    /// Per source, least recently seen first.
    realms: [Vec<Entry, WAYS>; SOURCES],
}

impl Default for DenialSummary {
    fn default() -> Self {
        Self::new()
    }
}

impl DenialSummary {
    /// Empty tables.
    pub const fn new() -> Self {
        Self { realms: [const { Vec::new() }; SOURCES] }
    }

    /// Records one denial and says whether to print it and which summary is due first.
    pub fn denial(&mut self, key: DenialKey) -> DenialReport {
        let table = of_source_mut(&mut self.realms, key.realm);
        if let Some(position) = table.iter().position(|entry| entry.key == key) {
            let mut entry = table.remove(position);
            entry.total = entry.total.saturating_add(1);
            let summary = if is_power_of_ten(entry.total) { entry.due() } else { None };
            if summary.is_some() {
                entry.reported = entry.total;
            }
            // Cannot fail: one entry was just removed.
            let _ = table.push(entry);
            return DenialReport { print: false, summary };
        }
        let evicted = if table.is_full() { Some(table.remove(0)) } else { None };
        let _ = table.push(Entry { key, total: 0, reported: 0 });
        DenialReport { print: true, summary: evicted.and_then(|entry| entry.due()) }
    }

    /// Every summary due for `realm`, oldest denial first, and forgets its denials (so the
    /// next one prints in full).
    pub fn flush(&mut self, realm: Source) -> Vec<RepeatSummary, WAYS> {
        let table = of_source_mut(&mut self.realms, realm);
        let due = table.iter().filter_map(Entry::due).collect();
        table.clear();
        due
    }
}

/// Whether `count` is 10, 100, 1000, ...
fn is_power_of_ten(count: u32) -> bool {
    let mut power = 10u32;
    loop {
        if count == power {
            return true;
        }
        match power.checked_mul(10) {
            Some(next) if next <= count => power = next,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(realm: u8, service: u16) -> DenialKey {
        DenialKey {
            realm: Source::realm(realm).unwrap(),
            action: 1,
            service: service.into(),
            rule: 3,
        }
    }

    #[test]
    fn powers_of_ten() {
        let powers: std::vec::Vec<u32> = (0..=2_000_000).filter(|&n| is_power_of_ten(n)).collect();
        assert_eq!(powers, [10, 100, 1000, 10_000, 100_000, 1_000_000]);
        assert!(is_power_of_ten(1_000_000_000));
        assert!(!is_power_of_ten(u32::MAX));
    }

    #[test]
    fn a_new_denial_prints_and_repeats_are_counted() {
        let mut summary = DenialSummary::new();
        assert_eq!(summary.denial(key(1, 7)), DenialReport { print: true, summary: None });
        for _ in 0..3 {
            assert_eq!(summary.denial(key(1, 7)), DenialReport { print: false, summary: None });
        }
        // Another realm's identical request is its own denial.
        assert!(summary.denial(key(2, 7)).print);
        let due = summary.flush(Source::realm(1).unwrap());
        assert_eq!(due.as_slice(), [RepeatSummary { key: key(1, 7), repeats: 3, total: 3 }]);
        // Flushed: the next one prints again, and nothing more is due.
        assert!(summary.denial(key(1, 7)).print);
        assert!(summary.flush(Source::realm(1).unwrap()).is_empty());
        assert!(summary.flush(Source::realm(2).unwrap()).is_empty());
    }

    #[test]
    fn a_loop_of_a_million_denials_prints_seven_lines() {
        let mut summary = DenialSummary::new();
        let mut printed = 0;
        let mut summaries = std::vec::Vec::new();
        for _ in 0..1_000_001 {
            let report = summary.denial(key(5, 1));
            printed += usize::from(report.print);
            summaries.extend(report.summary);
        }
        assert_eq!(printed, 1);
        let totals: std::vec::Vec<u32> = summaries.iter().map(|s| s.total).collect();
        assert_eq!(totals, [10, 100, 1000, 10_000, 100_000, 1_000_000]);
        let repeats: u32 = summaries.iter().map(|s| s.repeats).sum();
        assert_eq!(repeats, 1_000_000);
        assert!(summary.flush(Source::realm(5).unwrap()).is_empty());
    }

    #[test]
    fn alternating_denials_are_both_summarised() {
        let mut summary = DenialSummary::new();
        let mut printed = 0;
        for _ in 0..50 {
            printed += usize::from(summary.denial(key(1, 1)).print);
            printed += usize::from(summary.denial(key(1, 2)).print);
        }
        assert_eq!(printed, 2);
        let due = summary.flush(Source::realm(1).unwrap());
        assert_eq!(due.iter().map(|s| s.total).collect::<std::vec::Vec<_>>(), [49, 49]);
    }

    #[test]
    fn a_denial_pushed_out_reports_its_repeats() {
        let mut summary = DenialSummary::new();
        summary.denial(key(1, 0));
        summary.denial(key(1, 0));
        for service in 1..WAYS as u16 {
            assert_eq!(summary.denial(key(1, service)).summary, None);
        }
        let report = summary.denial(key(1, 99));
        assert!(report.print);
        assert_eq!(report.summary, Some(RepeatSummary { key: key(1, 0), repeats: 1, total: 1 }));
        // Pushed out without repeats: nothing due.
        assert_eq!(summary.denial(key(1, 100)).summary, None);
    }

    #[test]
    fn counts_saturate() {
        let mut summary = DenialSummary::new();
        summary.denial(key(1, 0));
        summary.realms[1][0].total = u32::MAX - 1;
        summary.realms[1][0].reported = 1_000_000_000;
        assert_eq!(summary.denial(key(1, 0)).summary, None);
        assert_eq!(summary.denial(key(1, 0)).summary, None);
        let due = summary.flush(Source::realm(1).unwrap());
        assert_eq!(due[0].total, u32::MAX);
        assert_eq!(due[0].repeats, u32::MAX - 1_000_000_000);
    }
}
