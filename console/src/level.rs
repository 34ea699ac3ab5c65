//! The console level: how much the console prints, set for the whole system by
//! `[system] log = "all" | "denials" | "quiet"`.
//!
//! Every event the memory manager might print has a [`Class`]; [`Level::prints`] says whether
//! it is printed. The memory manager checks it **before** queueing a line, so a line that is
//! not printed costs nothing and is not counted as dropped. A decision's human sentence and
//! its event line are one event: both print or neither does.
//!
//! | class | `all` | `denials` | `quiet` |
//! | --- | --- | --- | --- |
//! | [`Class::System`]: banner, run verdict, the memory manager's own errors | yes | yes | yes |
//! | [`Class::Denial`]: a refused register, connect, grant... | yes | yes | yes |
//! | [`Class::Fault`]: a realm's fault or panic | yes | yes | yes |
//! | [`Class::RealmOutput`]: what realms print | yes | yes | no |
//! | [`Class::Decision`]: allowed register and connect, realm started and stopped | yes | no | no |
//!
//! The reasoning: denials, faults and panics are what someone reading a log after the fact
//! needs, so they always print (denials are summarised when they repeat, see
//! [`denial`](crate::denial), so always printing them is safe). `denials` is the everyday
//! level: the system's own story (realm output) and whatever went wrong, without the
//! routine grants. `quiet` is for runs where the console's cost matters (benchmarks): only
//! what went wrong.

/// How much the console prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Level {
    /// Everything: every decision, realm output, denials, faults.
    #[default]
    All,
    /// Realm output, denials, faults and system lines; not the allowed decisions.
    Denials,
    /// Denials, faults and system lines only.
    Quiet,
}

/// What kind of event a line belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// An allowed broker decision (register, connect, grant) or a realm starting or stopping.
    Decision,
    /// A refused request.
    Denial,
    /// A realm's fault or panic.
    Fault,
    /// A line a realm printed.
    RealmOutput,
    /// The memory manager's banner, its run verdict and its own errors.
    System,
}

impl Level {
    /// Whether an event of `class` prints at this level (see the module doc's table).
    pub const fn prints(self, class: Class) -> bool {
        match class {
            Class::System | Class::Denial | Class::Fault => true,
            Class::RealmOutput => !matches!(self, Level::Quiet),
            Class::Decision => matches!(self, Level::All),
        }
    }

    /// The level named `name` as written in `system.toml` (`"all"`, `"denials"`, `"quiet"`),
    /// or `None`.
    pub fn from_name(name: &str) -> Option<Level> {
        match name {
            "all" => Some(Level::All),
            "denials" => Some(Level::Denials),
            "quiet" => Some(Level::Quiet),
            _ => None,
        }
    }

    /// The level's name as written in `system.toml`.
    pub const fn name(self) -> &'static str {
        match self {
            Level::All => "all",
            Level::Denials => "denials",
            Level::Quiet => "quiet",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLASSES: [Class; 5] =
        [Class::Decision, Class::Denial, Class::Fault, Class::RealmOutput, Class::System];

    #[test]
    fn denials_faults_and_system_lines_always_print() {
        for level in [Level::All, Level::Denials, Level::Quiet] {
            assert!(level.prints(Class::Denial));
            assert!(level.prints(Class::Fault));
            assert!(level.prints(Class::System));
            assert_eq!(Level::from_name(level.name()), Some(level));
        }
    }

    #[test]
    fn each_level_prints_no_more_than_the_one_above() {
        for class in CLASSES {
            assert!(Level::All.prints(class));
            assert!(!Level::Quiet.prints(class) || Level::Denials.prints(class));
        }
        assert!(!Level::Denials.prints(Class::Decision));
        assert!(Level::Denials.prints(Class::RealmOutput));
        assert!(!Level::Quiet.prints(Class::RealmOutput));
        assert_eq!(Level::from_name("loud"), None);
    }
}
