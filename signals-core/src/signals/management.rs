//! Migration signals (Django's `pre_migrate` and `post_migrate`).

/// One step of a migration plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationStep<'a> {
    /// Migration name.
    pub name: &'a str,
    /// `true` when the migration is unapplied.
    pub backwards: bool,
}

impl<'a> MigrationStep<'a> {
    /// A step applying (`backwards = false`) or unapplying migration `name`.
    pub fn new(name: &'a str, backwards: bool) -> Self {
        MigrationStep { name, backwards }
    }
}

/// Sent before an application's migrations run (Django's `pre_migrate`).
#[derive(crate::Signal)]
#[non_exhaustive]
pub struct PreMigrate<'a> {
    /// The application (Django's `app_config.label`).
    pub app: &'a str,
    /// Verbosity level.
    pub verbosity: u8,
    /// Whether the user may be prompted.
    pub interactive: bool,
    /// The database alias.
    pub using: &'a str,
    /// The migrations about to run.
    pub plan: &'a [MigrationStep<'a>],
}

impl<'a> PreMigrate<'a> {
    /// A `PreMigrate` for `app` on the default database.
    pub fn new(app: &'a str, plan: &'a [MigrationStep<'a>]) -> Self {
        PreMigrate {
            app,
            verbosity: 1,
            interactive: false,
            using: crate::signals::models::DEFAULT_DB,
            plan,
        }
    }
    /// Sets the database alias.
    pub fn using(mut self, using: &'a str) -> Self {
        self.using = using;
        self
    }
    /// Sets the verbosity level (default `1`).
    pub fn verbosity(mut self, verbosity: u8) -> Self {
        self.verbosity = verbosity;
        self
    }
    /// Sets whether the user may be prompted (default `false`).
    pub fn interactive(mut self, interactive: bool) -> Self {
        self.interactive = interactive;
        self
    }
}

/// Sent after an application's migrations ran, even when none did (Django's
/// `post_migrate`).
#[derive(crate::Signal)]
#[non_exhaustive]
pub struct PostMigrate<'a> {
    /// The application.
    pub app: &'a str,
    /// Verbosity level.
    pub verbosity: u8,
    /// Whether the user may be prompted.
    pub interactive: bool,
    /// The database alias.
    pub using: &'a str,
    /// The migrations that ran.
    pub plan: &'a [MigrationStep<'a>],
}

impl<'a> PostMigrate<'a> {
    /// A `PostMigrate` for `app` on the default database.
    pub fn new(app: &'a str, plan: &'a [MigrationStep<'a>]) -> Self {
        PostMigrate {
            app,
            verbosity: 1,
            interactive: false,
            using: crate::signals::models::DEFAULT_DB,
            plan,
        }
    }
    /// Sets the database alias.
    pub fn using(mut self, using: &'a str) -> Self {
        self.using = using;
        self
    }
    /// Sets the verbosity level (default `1`).
    pub fn verbosity(mut self, verbosity: u8) -> Self {
        self.verbosity = verbosity;
        self
    }
    /// Sets whether the user may be prompted (default `false`).
    pub fn interactive(mut self, interactive: bool) -> Self {
        self.interactive = interactive;
        self
    }
}
