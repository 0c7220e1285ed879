//! [`SettingChanged`] (Django's `setting_changed`).

use std::fmt::Debug;

/// Sent when a setting is overridden (`enter = true`) or restored (`enter = false`),
/// typically by test helpers.
#[derive(crate::Signal)]
#[non_exhaustive]
pub struct SettingChanged<'a> {
    /// The setting's name.
    pub setting: &'a str,
    /// The new value; `None` when the setting is removed.
    pub value: Option<&'a (dyn Debug + Sync)>,
    /// `true` when the override is applied, `false` when it is undone.
    pub enter: bool,
}

impl<'a> SettingChanged<'a> {
    /// A `SettingChanged` for `setting`.
    pub fn new(setting: &'a str, value: Option<&'a (dyn Debug + Sync)>, enter: bool) -> Self {
        SettingChanged {
            setting,
            value,
            enter,
        }
    }
}
